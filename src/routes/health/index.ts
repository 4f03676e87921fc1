// Liveness and readiness for orchestrators.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { errors } from '../../schemas.js';

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, keystore } = app;
  app.get(
    '/healthz',
    {
      config: { policy: { public: true } },
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
      config: { policy: { public: true } },
      schema: {
        operationId: 'readyz',
        summary: 'Readiness: database reachable, keys loaded',
        tags: ['health'],
        security: [],
        response: { 200: Status, 503: Status, ...errors(429) },
      },
    },
    async (_request, reply) => {
      const ready = keystore.isReady() && (await db.ping());
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable' });
    },
  );
};

export default routes;
