// The password hasher (argon2id, a bounded queue) as app.hasher, warmed before the first login.
import fp from 'fastify-plugin';
import { PasswordHasher } from '../../domain/passwords/password-hasher.js';

declare module 'fastify' {
  interface FastifyInstance {
    hasher: PasswordHasher;
  }
}

export default fp(
  async (app) => {
    const hasher = new PasswordHasher(app.config.argon2);
    await hasher.warm();
    app.decorate('hasher', hasher);
  },
  { name: 'hasher', decorators: { fastify: ['config'] } },
);
