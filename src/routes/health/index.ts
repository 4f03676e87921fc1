// Liveness and readiness for orchestrators. From the first SIGTERM /readyz answers 503
// (status "closing"), so a load balancer that checks it takes the instance out.
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { errors } from '../../schemas.js';
import { TesseraError } from '../../errors/errors.js';
import { isRedisUnavailable, redisAnswers } from '../../plugins/external/redis.js';

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });
const Readiness = Type.Object(
  {
    status: Type.String(),
    detail: Type.Optional(
      Type.String({
        description:
          'What is not ready: keys, database, redis (comma-separated); when ready, a warning such as database_role_owns_schema',
      }),
    ),
  },
  { additionalProperties: false },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, keystore, redis } = app;
  // The global per-IP budget (the same counter as every other route), except that with
  // Redis down it is skipped here: an orchestrator must not restart every instance because
  // Redis is away. Credential routes fail closed instead (503).
  const globalLimit = app.createRateLimit();
  const onRequest = async (request: FastifyRequest) => {
    let verdict: Awaited<ReturnType<typeof globalLimit>>;
    try {
      verdict = await globalLimit(request);
    } catch (error) {
      if (isRedisUnavailable(error)) return;
      throw error;
    }
    if (!verdict.isAllowed && verdict.isExceeded) {
      throw new TesseraError('rate_limited', {
        detail: `rate limit ${verdict.max} exceeded`,
        headers: { 'Retry-After': String(Math.max(1, verdict.ttlInSeconds)) },
      });
    }
  };
  app.get(
    '/healthz',
    {
      config: { policy: { public: true }, rateLimit: false },
      onRequest,
      schema: {
        operationId: 'healthz',
        summary: 'Liveness',
        tags: ['health'],
        security: [],
        response: { 200: Status, ...errors(429) },
      },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      config: { policy: { public: true }, rateLimit: false },
      onRequest,
      schema: {
        operationId: 'readyz',
        summary: 'Readiness: keys loaded, database and Redis (when configured) reachable, not stopping',
        tags: ['health'],
        security: [],
        response: { 200: Readiness, 503: Readiness, ...errors(429) },
      },
    },
    async (_request, reply) => {
      if (app.isClosing()) return reply.code(503).send({ status: 'closing' });
      const [database, shared] = await Promise.all([db.ping(), redis ? redisAnswers(redis) : true]);
      const missing = [
        ...(keystore.isReady() ? [] : ['keys']),
        ...(database ? [] : ['database']),
        ...(shared ? [] : ['redis']),
      ];
      if (missing.length === 0) {
        // Ready, but the runtime role could undo the audit guards (production only).
        if (app.dbRoleTooPowerful)
          return reply.code(200).send({ status: 'ready', detail: 'database_role_owns_schema' });
        return reply.code(200).send({ status: 'ready' });
      }
      return reply
        .code(503)
        .header('Retry-After', '5')
        .send({ status: 'unavailable', detail: missing.join(',') });
    },
  );
};

export default routes;
