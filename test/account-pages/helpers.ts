// A live Tessera with verification required and a real SMTP server on 127.0.0.1, for the
// hosted account pages; and the small steps their tests share.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';
import type { AgentPage } from '../helpers/html-agent.js';
import { startLiveServer, type LiveServer } from '../helpers/live-server.js';
import { linkFrom, startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { registerUser } from '../../src/users/register-user.js';

export interface AccountWorld {
  server: LiveServer;
  smtp: TestSmtp;
}

export async function accountWorld(
  t: Pick<TestContext, 'after'>,
  env: Record<string, string> = {},
): Promise<AccountWorld> {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const server = await startLiveServer(t, {
    SMTP_URL: smtp.url(),
    EMAIL_VERIFICATION: 'required',
    MAIL_POLL_INTERVAL_MS: '50',
    ...env,
  });
  return { server, smtp };
}

/** POST /auth/login (JSON), as an application's backend would. */
export async function jsonLogin(server: LiveServer, email: string, password: string) {
  const res = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A verified account made directly (as `tessera users create` does). */
export async function verifiedUser(server: LiveServer, password = GOOD_PASSWORD) {
  const email = uniqueEmail('pages');
  const result = await registerUser(server.services, { email, password, roles: ['user'] });
  assert.ok(result.created);
  return { email, password, id: result.user.id };
}

/** The link of the n-th mail of this kind to `to`, waiting for it. */
export async function mailedLink(smtp: TestSmtp, to: string, kind: string, nth = 0): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mails = smtp.received.filter((m) => m.to.includes(to.toLowerCase()) && m.headers.get('x-mail-kind') === kind);
    if (mails.length > nth) return linkFrom(mails[nth]!);
    if (Date.now() > deadline) throw new Error(`no mail ${kind} #${nth + 1} to ${to}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The visible text of a page's <main>, white space collapsed: what a reader sees. */
export function textOf(page: Pick<AgentPage, 'body'>): string {
  const main = /<main[^>]*>([\s\S]*)<\/main>/.exec(page.body)?.[1] ?? page.body;
  return main
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The headers every account page carries; `token` pages also hide their URL from any Referer. */
export function assertPageHeaders(page: AgentPage, what: string, options: { tokenInUrl: boolean }): void {
  assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/, what);
  assert.equal(page.headers.get('cache-control'), 'no-store', `${what}: no-store`);
  assert.equal(page.headers.get('x-frame-options'), 'DENY', what);
  const csp = page.headers.get('content-security-policy') ?? '';
  for (const directive of ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"])
    assert.ok(csp.split('; ').includes(directive), `${what}: ${directive} in ${csp}`);
  assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'/, what);
  assert.match(csp, /script-src 'nonce-[A-Za-z0-9+/]{22,}={0,2}'/, `${what}: a nonce`);
  assert.equal(
    page.headers.get('referrer-policy'),
    options.tokenInUrl ? 'no-referrer' : 'same-origin',
    `${what}: referrer-policy`,
  );
  assert.doesNotMatch(page.body, /<script(?![^>]*\snonce=)/, `${what}: no script without the nonce`);
}
