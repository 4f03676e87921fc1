// CORS from the exact CORS_ORIGINS allow-list (@fastify/cors): an origin is echoed only
// when listed, `null` never is, credentials only for listed origins, and a preflight is
// answered only for a path and method that really exist.
import fp from 'fastify-plugin';
import cors from '@fastify/cors';
import FindMyWay from 'find-my-way';
import type { HTTPMethod } from 'find-my-way';
import { TesseraError } from '../../errors/errors.js';

export const CSRF_HEADER = 'x-tessera-csrf';

export default fp(
  async (app) => {
    const allowed = new Set(app.config.corsOrigins);
    // A mirror of the route table, to tell a real route from a probe.
    const routes = FindMyWay({ ignoreTrailingSlash: false });
    app.addHook('onRoute', (route) => {
      const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter(
        (m) => m !== 'OPTIONS' && m !== 'HEAD',
      );
      for (const method of methods) {
        try {
          routes.on(method as HTTPMethod, route.url, () => undefined);
        } catch {
          /* already mirrored (e.g. a prefix route registered with and without slash) */
        }
      }
    });
    app.addHook('onRequest', async (request) => {
      if (request.method !== 'OPTIONS') return;
      const wanted = request.headers['access-control-request-method'];
      const path = request.url.split('?')[0] ?? '/';
      if (typeof wanted !== 'string' || !routes.find(wanted.toUpperCase() as HTTPMethod, path)) {
        throw new TesseraError('not_found', { detail: 'preflight for no route' });
      }
    });
    await app.register(cors, {
      origin: (origin, callback) => callback(null, typeof origin === 'string' && allowed.has(origin)),
      credentials: true,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', CSRF_HEADER],
      exposedHeaders: ['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'WWW-Authenticate'],
      maxAge: 600,
      strictPreflight: true,
      hideOptionsRoute: true,
    });
  },
  { name: 'cors', decorators: { fastify: ['config'] } },
);
