// GET /metrics on the main port, for admins (permission metrics:read), when METRICS_PORT
// is not set; with it set, the metrics plugin serves them there instead.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { errors } from '../../schemas.js';

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  if (app.config.metrics.port !== undefined) return;
  app.get(
    '/metrics',
    {
      config: { policy: { permission: 'metrics:read' } },
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics (admins; served on METRICS_PORT without auth when that is set)',
        tags: ['admin'],
        security: [{ bearer: [] }],
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { [PROMETHEUS_CONTENT_TYPE]: { schema: Type.String() } },
          },
          ...errors(401, 403, 429),
        },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await app.metrics.render();
      return reply.type(contentType).header('cache-control', 'no-store').send(body);
    },
  );
};

export default routes;
