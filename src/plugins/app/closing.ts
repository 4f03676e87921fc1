// Requests still arriving on open connections while the server drains get the contract's
// 503, with helmet's headers already set; Fastify adds `connection: close` itself.
import fp from 'fastify-plugin';
import { TesseraError } from '../../errors/errors.js';

export default fp(
  async (app) => {
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });
    app.addHook('onRequest', async () => {
      if (closing) throw new TesseraError('temporarily_unavailable', { detail: 'server closing' });
    });
  },
  { name: 'closing', dependencies: ['helmet'] },
);
