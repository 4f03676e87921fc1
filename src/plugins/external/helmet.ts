// Security headers on every response, errors and 404s included; HSTS whenever the
// request came over HTTPS or the issuer is https; plain-HTTP API calls refused in
// production (not redirected: a redirect would already have leaked the body).
import fp from 'fastify-plugin';
import helmet from '@fastify/helmet';
import { TesseraError } from '../../errors/errors.js';
import { DEFAULT_CACHE_CONTROL, HELMET_OPTIONS, HSTS } from '../../lib/security-headers.js';

/** Probes from an orchestrator may use plain HTTP inside the cluster. */
const PLAIN_HTTP_ALLOWED = new Set(['/healthz', '/readyz']);

export default fp(
  async (app) => {
    const { config } = app;
    const httpsIssuer = config.issuer.startsWith('https:');
    // The options live with the static header set that answers outside the hooks use.
    await app.register(helmet, { global: true, ...HELMET_OPTIONS });
    if (config.env === 'production') {
      app.addHook('onRequest', async (request) => {
        if (request.protocol !== 'https' && !PLAIN_HTTP_ALLOWED.has(request.url.split('?')[0] ?? '')) {
          throw new TesseraError('invalid_request', {
            status: 403,
            description: 'HTTPS is required',
            detail: 'plain HTTP in production',
          });
        }
      });
    }
    app.addHook('onSend', async (request, reply, payload) => {
      if (httpsIssuer || request.protocol === 'https') reply.header('strict-transport-security', HSTS);
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', DEFAULT_CACHE_CONTROL);
      return payload;
    });
  },
  { name: 'helmet', decorators: { fastify: ['config'] } },
);
