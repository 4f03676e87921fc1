// Security headers on every response, errors and 404s included; HSTS whenever the
// request came over HTTPS or the issuer is https; plain-HTTP API calls refused in
// production (not redirected: a redirect would already have leaked the body).
import fp from 'fastify-plugin';
import helmet from '@fastify/helmet';
import { TesseraError } from '../../errors/errors.js';

const HSTS = 'max-age=63072000; includeSubDomains';
/** Probes from an orchestrator may use plain HTTP inside the cluster. */
const PLAIN_HTTP_ALLOWED = new Set(['/healthz', '/readyz']);

export default fp(
  async (app) => {
    const { config } = app.services;
    const httpsIssuer = config.issuer.startsWith('https:');
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      hsts: false, // set below, per request
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginResourcePolicy: { policy: 'same-origin' },
    });
    if (config.env === 'production') {
      app.addHook('onRequest', async (request) => {
        if (request.protocol !== 'https' && !PLAIN_HTTP_ALLOWED.has(request.url.split('?')[0] ?? '')) {
          throw new TesseraError('invalid_request', { status: 403, description: 'HTTPS is required', detail: 'plain HTTP in production' });
        }
      });
    }
    app.addHook('onSend', async (request, reply, payload) => {
      if (httpsIssuer || request.protocol === 'https') reply.header('strict-transport-security', HSTS);
      // No token or personal data may sit in a cache unless a route says otherwise.
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      return payload;
    });
  },
  { name: 'helmet', dependencies: ['services'] },
);
