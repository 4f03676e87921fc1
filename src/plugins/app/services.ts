// Makes the long-lived services reachable from every route as app.services.
import fp from 'fastify-plugin';
import type { Services } from '../../services.js';

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export default fp<{ services: Services }>(
  async (app, { services }) => {
    app.decorate('services', services);
  },
  { name: 'services' },
);
