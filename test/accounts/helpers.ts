// An app with verification required and a real SMTP server on 127.0.0.1, for the account
// life cycle tests; and the small steps they share.
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build, type Built } from '../helpers/build.js';
import { linkFrom, startSmtp, type TestSmtp } from '../helpers/smtp.js';

export interface AccountsApp extends Built {
  smtp: TestSmtp;
  /** When the app was built: mails queued since are this app's. */
  startedAt: Date;
}

export async function accountsApp(
  t: Pick<TestContext, 'after'>,
  env: Record<string, string> = {},
): Promise<AccountsApp> {
  const startedAt = new Date();
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const built = await build(t, {
    SMTP_URL: smtp.url(),
    EMAIL_VERIFICATION: 'required',
    MAIL_POLL_INTERVAL_MS: '50',
    ...env,
  });
  return { ...built, smtp, startedAt };
}

/** The token of the link in the next mail of this kind to `to` (mails already taken count). */
export async function tokenFrom(smtp: TestSmtp, to: string, kind: string, skip = 0): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mails = smtp.received.filter((m) => m.to.includes(to) && m.headers.get('x-mail-kind') === kind);
    if (mails.length > skip) return new URL(linkFrom(mails[skip]!)).searchParams.get('token')!;
    if (Date.now() > deadline) throw new Error(`no mail ${kind} #${skip + 1} to ${to}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** How many mails of this kind reached `to` so far. */
export function mailCount(smtp: TestSmtp, to: string, kind?: string): number {
  return smtp.received.filter((m) => m.to.includes(to) && (kind === undefined || m.headers.get('x-mail-kind') === kind))
    .length;
}

export const login = (app: FastifyInstance, email: string, password: string) =>
  app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });

export const register = (app: FastifyInstance, email: string, password: string) =>
  app.inject({ method: 'POST', url: '/users', payload: { email, password } });

export const verify = (app: FastifyInstance, token: string) =>
  app.inject({ method: 'POST', url: '/users/verify-email', payload: { token } });

/**
 * Waits until every mail this app queued was handed to the SMTP server. (Rows an earlier
 * test's app claimed as it closed wait for their lease to end: they are not this app's.)
 */
export async function mailsDelivered(built: AccountsApp): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [row] = await built.services.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM mail_outbox WHERE created_at >= $1',
      [built.startedAt],
    );
    if (row!.n === 0) return;
    if (Date.now() > deadline) throw new Error('mail outbox not drained');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Median of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The headers that must not differ between two answers (dates, ids and limits' counters aside). */
export function comparableHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const skip = new Set(['date', 'content-length', 'ratelimit-remaining', 'ratelimit-reset']);
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !skip.has(name.toLowerCase())));
}
