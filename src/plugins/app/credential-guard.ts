// app.credentialGuard around every check of a password: the attempt counters (Redis when
// configured, else the database), the captcha verifier with its replay store, and the
// guard's audit events. The counters' HMAC secret comes in as an option and stays inside.
import fp from 'fastify-plugin';
import { PostgresAttemptCounter, RedisAttemptCounter, type AttemptCounter } from '../../defences/attempt-counter.js';
import { PostgresCaptchaReplay, RedisCaptchaReplay, type CaptchaReplayStore } from '../../defences/captcha-replay.js';
import { CaptchaVerifier } from '../../defences/captcha.js';
import { auditGuardEvents, CredentialGuard } from '../../defences/credential-guard.js';

declare module 'fastify' {
  interface FastifyInstance {
    credentialGuard: CredentialGuard;
    /** The failure counters behind the guard (read by operators' tooling and tests). */
    attempts: AttemptCounter;
  }
}

interface CredentialGuardPluginOptions {
  counterSecret: Buffer;
}

export default fp<CredentialGuardPluginOptions>(
  async (app, { counterSecret }) => {
    const { config, db, redis } = app;
    const window = config.loginDefence.windowSeconds;
    const attempts: AttemptCounter = redis
      ? new RedisAttemptCounter(redis, window, `${config.redisPrefix}fail:`)
      : new PostgresAttemptCounter(db, window);
    const replay: CaptchaReplayStore = redis
      ? new RedisCaptchaReplay(redis, `${config.redisPrefix}captcha:`)
      : new PostgresCaptchaReplay(db);
    const guard = new CredentialGuard(
      attempts,
      new CaptchaVerifier(config.captcha, replay),
      {
        afterFailures: config.captcha.afterFailures,
        afterIpFailures: config.captcha.afterIpFailures,
        maxDelayMs: config.loginDefence.maxDelayMs,
      },
      counterSecret,
      auditGuardEvents(db),
    );
    app.decorate('credentialGuard', guard);
    app.decorate('attempts', attempts);
  },
  { name: 'credential-guard', dependencies: ['database', 'redis'] },
);
