// Security headers on every response, errors and 404s included; HSTS whenever the
// request came over HTTPS or the issuer is https; plain-HTTP API calls refused in
// production (not redirected: a redirect would already have leaked the body).
//
// The set is helmet's own answer to HELMET_OPTIONS, computed once (src/lib/security-headers.ts)
// and copied onto each reply. @fastify/helmet would rebuild helmet's middleware, parsing the
// CSP directives again, on every request, for the same bytes; no route uses its per-route
// options, reply.helmet() or CSP nonces (the hosted pages set their own CSP).
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { TesseraError } from '../../errors/errors.js';
import { securityHeaders } from '../../lib/security-headers.js';

/** Probes from an orchestrator may use plain HTTP inside the cluster. */
const PLAIN_HTTP_ALLOWED = new Set(['/healthz', '/readyz']);

export default fp(
  async (app) => {
    const { config } = app;
    const httpsIssuer = config.issuer.startsWith('https:');
    // Cache-Control is the default (no-store) until a route sets its own.
    const plain = securityHeaders(httpsIssuer);
    const overTls = securityHeaders(true);
    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      reply.headers(httpsIssuer || request.protocol !== 'https' ? plain : overTls);
      done();
    });
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
  },
  { name: 'helmet', decorators: { fastify: ['config'] } },
);
