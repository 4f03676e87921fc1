// A password login at the hosted page: the same check as POST /auth/login (one credential
// guard, one set of counters), then the browser session behind single sign-on.
import type { FastifyReply } from 'fastify';
import type { AppConfig } from '../app.js';
import type { Database } from '../db/database.js';
import {
  endBrowserSession,
  renewBrowserAuthentication,
  type BrowserSessionRow,
} from '../db/repositories/browser-sessions.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import type { CredentialGuard } from '../defences/credential-guard.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { checkPassword } from '../sessions/login.js';
import { startBrowserSession } from './browser.js';

export interface PageLoginDeps {
  db: Database;
  hasher: PasswordHasher;
  credentialGuard: CredentialGuard;
  config: Pick<AppConfig, 'sessionTtl' | 'accounts'>;
}

export interface PageLogin {
  email: string;
  password: string;
  captchaToken: string | undefined;
  ip: string;
  userAgent: string | null;
  /** The client the login is for, for the audit event. */
  clientId: string;
  /** The browser's current session, replaced by this login. */
  current: BrowserSessionRow | undefined;
}

const PASSWORD_AMR = ['pwd'];

export async function signInAtPage(
  deps: PageLoginDeps,
  reply: FastifyReply,
  r: PageLogin,
  log: { warn(o: object, m: string): void },
): Promise<BrowserSessionRow> {
  const { db, config } = deps;
  const { user, captcha, account } = await checkPassword(deps, { ...r, step: 'login' }, log);
  let session: BrowserSessionRow | undefined;
  if (r.current && r.current.user_id === user.id) {
    // prompt=login or max_age for the user already here: the same session, a fresh auth_time.
    session = await renewBrowserAuthentication(db, {
      id: r.current.id,
      amr: PASSWORD_AMR,
      ttlSeconds: config.sessionTtl,
    });
  } else if (r.current) {
    // Another account signs in in this browser: the previous one is signed out first.
    await endBrowserSession(db, { id: r.current.id, reason: 'replaced' });
  }
  session ??= await startBrowserSession(db, reply, {
    userId: user.id,
    amr: PASSWORD_AMR,
    ttlSeconds: config.sessionTtl,
    ip: r.ip,
    userAgent: r.userAgent,
  });
  await recordSecurityEvent(db, {
    type: 'login_success',
    userId: user.id,
    actor: user.id,
    ip: r.ip,
    detail: { client_id: r.clientId, via: 'hosted_page', captcha, account, browser_session: session.id },
  });
  return session;
}
