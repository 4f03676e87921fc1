// app.tokens: the one place that signs and verifies Tessera's tokens, with this
// instance's keys.
import fp from 'fastify-plugin';
import { TokenService } from '../../tokens/token-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    tokens: TokenService;
  }
}

export default fp(
  async (app) => {
    app.decorate('tokens', new TokenService(app.keystore, app.config));
  },
  { name: 'token-service', dependencies: ['keystore'] },
);
