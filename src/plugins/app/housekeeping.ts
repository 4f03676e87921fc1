// Housekeeping on a timer of its own: about once a minute, counter entries past the window
// and spent captcha answers (login_failures, captcha_answers), and expired browser sessions,
// authorization requests and codes, mfa_tokens and WebAuthn challenges; about once an hour, and on
// the first pass after start, the audit log and alerts past AUDIT_RETENTION_DAYS.
// app.housekeeping() runs a whole pass now.
import fp from 'fastify-plugin';
import { applyAuditRetention } from '../../audit/audit-log.js';
import { pruneAuthorizationState } from '../../authorization/housekeeping.js';
import { pruneRevocations } from '../../db/repositories/revocations.js';
import { pruneAccountState } from '../../users/housekeeping.js';
import { pruneMfa } from '../../db/repositories/mfa.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Prunes counters, captcha answers, and the audit log and alerts past retention, now. */
    housekeeping(): Promise<void>;
  }
}

const EVERY_MINUTE = 60_000;
/** Audit retention runs on the first timed pass and every this many after it. */
const RETENTION_EVERY = 60;

export default fp(
  async (app) => {
    let running: Promise<void> | undefined;
    // One pass at a time; a caller arriving meanwhile waits for the one in flight and then runs its own.
    const pass = async (withRetention: boolean): Promise<void> => {
      while (running) await running.catch(() => undefined);
      running = (async () => {
        await app.credentialGuard.prune();
        await pruneAuthorizationState(app.db);
        await pruneRevocations(app.db);
        await pruneAccountState(app.db, app.config);
        await pruneMfa(app.db);
        if (withRetention)
          await applyAuditRetention(app.db, app.auditKey, app.config.audit.retentionDays, {
            keepUnexported: app.config.audit.exportUrl !== undefined,
          });
      })().finally(() => {
        running = undefined;
      });
      return running;
    };
    let passes = 0;
    const timer = setInterval(() => {
      pass(passes++ % RETENTION_EVERY === 0).catch((error: unknown) =>
        app.log.error({ err: error }, 'housekeeping failed'),
      );
    }, EVERY_MINUTE);
    timer.unref();
    app.decorate('housekeeping', () => pass(true));
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await running?.catch(() => undefined);
    });
  },
  { name: 'housekeeping', dependencies: ['database', 'credential-guard', 'audit'] },
);
