// Cookies (@fastify/cookie), parsed in onRequest: the refresh cookie of browser mode.
import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';

export default fp(
  async (app) => {
    await app.register(cookie, { hook: 'onRequest' });
  },
  { name: 'cookie' },
);
