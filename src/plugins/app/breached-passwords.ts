// app.breachedPasswords: the range lookup a new password goes through after the local
// policy (BREACHED_PASSWORDS_URL; off when unset). Each lookup is counted; a failed one
// is a warning that names the reason only, never anything derived from the password.
import fp from 'fastify-plugin';
import { BreachedPasswords } from '../../domain/passwords/breached.js';

declare module 'fastify' {
  interface FastifyInstance {
    breachedPasswords: BreachedPasswords;
  }
}

export default fp(
  async (app) => {
    const { breachedUrl, breachedTimeoutMs } = app.config.password;
    const log = app.log.child({ module: 'breached-passwords' });
    const breached = new BreachedPasswords(
      { url: breachedUrl, timeoutMs: breachedTimeoutMs },
      {
        counted: (result) => app.metrics.breachedPasswordChecks.inc({ result }),
        failed: (reason, detail) =>
          log.warn({ reason, ...detail }, 'breached-password lookup failed: the password is accepted'),
      },
    );
    app.decorate('breachedPasswords', breached);
  },
  { name: 'breached-passwords', dependencies: ['metrics'], decorators: { fastify: ['config'] } },
);
