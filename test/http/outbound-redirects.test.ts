// Every HTTP call Tessera makes to another service (captcha siteverify, the alert webhook,
// the audit checkpoint push, the breached-password range API) treats a redirect as a
// failure and never follows it: a redirect could carry the captcha secret, an alert or a
// password-hash prefix to a host nobody configured. A server on 127.0.0.1 answers every
// request with a redirect to a second one that would answer with success.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CaptchaVerifier } from '../../src/defences/captcha.js';
import { PostgresCaptchaReplay } from '../../src/defences/captcha-replay.js';
import { postWebhook } from '../../src/audit/webhook.js';
import { recordSecurityEvent } from '../../src/audit/audit-log.js';
import { BreachedPasswords, rangeKey, type BreachedLookupFailure } from '../../src/domain/passwords/breached.js';
import { build } from '../helpers/build.js';

const REDIRECTS = [301, 302, 303, 307, 308];
const PASSWORD = 'correct horse battery staple';

async function listen(
  t: { after(fn: () => unknown): void },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('outbound calls never follow redirects', async (t) => {
  // The destination of the redirects answers each call the way that would make it succeed.
  const reached: string[] = [];
  const target = await listen(t, (req, res) => {
    reached.push(req.url ?? '');
    req.resume();
    const path = req.url ?? '';
    if (path.startsWith('/siteverify')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ success: true, hostname: 'localhost' }));
    }
    if (path.startsWith('/range/')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(`${rangeKey(PASSWORD).suffix}:12345\r\n`);
    }
    res.writeHead(204).end();
  });
  let status = 302;
  const redirected: string[] = [];
  const redirector = await listen(t, (req, res) => {
    redirected.push(req.url ?? '');
    req.resume();
    res.writeHead(status, { location: `${target}${req.url ?? '/'}` }).end();
  });

  const { services } = await build(t, {
    KEY_SYNC_INTERVAL: '300',
    // The timers stay out of it: this test pushes by hand.
    AUDIT_SEAL_INTERVAL_MS: '60000',
    ALERT_CHECK_INTERVAL_MS: '60000',
    AUDIT_CHECKPOINT_URL: `${redirector}/checkpoints`,
  });
  const captcha = new CaptchaVerifier(
    {
      provider: 'hcaptcha',
      secret: 'captcha-secret',
      sitekey: 'site-key',
      verifyUrl: `${redirector}/siteverify`,
      timeoutMs: 3000,
      hostnames: ['localhost'],
      minScore: 0.5,
    },
    new PostgresCaptchaReplay(services.db),
  );
  const failures: { reason: BreachedLookupFailure; status?: number }[] = [];
  const breached = new BreachedPasswords(
    { url: `${redirector}/range`, timeoutMs: 3000 },
    { counted: () => undefined, failed: (reason, detail) => failures.push({ reason, ...detail }) },
  );
  await recordSecurityEvent(services.db, { type: 'login_failure', detail: { redirects: true } });
  await services.auditSealer.seal();

  for (const code of REDIRECTS) {
    status = code;
    const before = redirected.length;

    assert.equal(await captcha.verify(`answer-${code}`, '127.0.0.1'), 'unavailable', `siteverify ${code}`);

    const hook = await postWebhook(
      `${redirector}/hook`,
      '{"alert":"test"}',
      { 'content-type': 'application/json' },
      {
        timeoutMs: 3000,
        signal: new AbortController().signal,
      },
    );
    assert.deepEqual(hook, { kind: 'final', error: `HTTP ${code}` }, `webhook ${code}: failed, not retried`);

    await services.db.query('UPDATE audit_tree SET next_push_at = now()');
    assert.equal(await services.auditSealer.push(), false, `checkpoint push ${code}`);
    const [tree] = await services.db.query<{ pushed_size: string | null }>('SELECT pushed_size FROM audit_tree');
    assert.ok(!Number(tree?.pushed_size), `checkpoint ${code}: not marked delivered`);

    assert.equal(await breached.check(PASSWORD), 'error', `range ${code}: neither breached nor clean`);
    assert.deepEqual(failures.at(-1), { reason: 'status', status: code });

    assert.deepEqual(
      redirected.slice(before).map((p) => p.split('/')[1]),
      ['siteverify', 'hook', 'checkpoints', 'range'],
      `${code}: every call reached the redirecting server`,
    );
  }
  assert.deepEqual(reached, [], 'the second server got no request');
});
