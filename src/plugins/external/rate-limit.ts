// Request rate limits per client IP (@fastify/rate-limit): a global ceiling, tighter
// limits on login, registration and token routes (set in their route config), shared
// through Redis when configured. The IP is the socket's unless TRUST_PROXY names the
// proxies, so a forged X-Forwarded-For changes nothing.
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import { TesseraError } from '../../errors/errors.js';
import { ipBucket } from '../../defences/attempt-counter.js';

export const ONE_MINUTE = 60_000;

export default fp(
  async (app) => {
    const { config, redis } = app;
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimits.global,
      timeWindow: ONE_MINUTE,
      ...(redis ? { redis, nameSpace: `${config.redisPrefix}rl:` } : {}),
      // Redis down: the limit fails closed (503 via the error mapper), never unlimited.
      skipOnError: false,
      enableDraftSpec: true,
      keyGenerator: (request) => ipBucket(request.ip),
      errorResponseBuilder: (_request, context) =>
        new TesseraError('rate_limited', {
          detail: `rate limit ${context.max} exceeded`,
          headers: { 'Retry-After': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
        }),
    });
  },
  { name: 'rate-limit', dependencies: ['redis'], decorators: { fastify: ['config'] } },
);
