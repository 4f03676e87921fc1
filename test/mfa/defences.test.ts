// Second steps under the login defences: parallel bursts of wrong codes get no more checks
// than CAPTCHA_AFTER_FAILURES per mfa_token; the account's second-step counter survives a
// right password, so new mfa_tokens do not buy new guesses; past it a captcha is needed;
// and repeated failures raise an alert.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startSiteverify } from '../helpers/siteverify-stand-in.js';
import { listAlerts } from '../../src/db/repositories/alerts.js';
import { enrolTotp, mfaApp, mfaToken, newUser, secondStep, totp } from './helpers.js';

const AFTER = 3;

/** Six digits that are none of the codes around now. */
function wrongCode(secret: string, i: number): string {
  const near = new Set([-2, -1, 0, 1, 2].map((o) => totp(secret, o)));
  for (let n = i; ; n += 7919) {
    const code = String(n % 1_000_000).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

test('a burst of wrong codes on one mfa_token: exactly CAPTCHA_AFTER_FAILURES checks, then the token is spent', async (t) => {
  const { app, services } = await mfaApp(t, {
    CAPTCHA_AFTER_FAILURES: String(AFTER),
    CAPTCHA_AFTER_IP_FAILURES: '1000',
  });
  const user = await newUser(app);
  const { secret } = await enrolTotp(app, user.tokens.access_token);
  const pending = await mfaToken(app, user.email);
  const burst = await Promise.all(
    Array.from({ length: 24 }, (_, i) =>
      secondStep(app, { mfa_token: pending.mfa_token, method: 'totp', code: wrongCode(secret, i) }),
    ),
  );
  const errors = burst.map((r) => `${r.statusCode} ${r.json<{ error: string }>().error}`);
  assert.equal(errors.filter((e) => e === '401 invalid_code').length, AFTER, errors.join(', '));
  assert.equal(errors.filter((e) => e === '400 invalid_grant').length, 24 - AFTER, errors.join(', '));
  // Spent: the right code no longer completes this login.
  const right = await secondStep(app, { mfa_token: pending.mfa_token, method: 'totp', code: totp(secret, 1) });
  assert.equal(right.statusCode, 400);
  const [row] = await services.db.query<{ attempts: number; spent: boolean }>(
    'SELECT attempts, spent_at IS NOT NULL AS spent FROM mfa_logins WHERE user_id = $1',
    [user.id],
  );
  assert.deepEqual(row, { attempts: AFTER, spent: true });
  const events = await services.db.query<{ type: string; n: number }>(
    `SELECT type, count(*)::int AS n FROM security_events WHERE user_id = $1 AND type LIKE 'mfa_%' GROUP BY type ORDER BY type`,
    [user.id],
  );
  assert.deepEqual(
    events.filter((e) => e.type !== 'mfa_enrolled'),
    [
      { type: 'mfa_failure', n: AFTER },
      { type: 'mfa_required', n: 1 },
      { type: 'mfa_token_spent', n: 1 },
    ],
  );
});

test('with a captcha provider: second-step failures count per account across mfa_tokens, a right password does not reset them, and a solved captcha gets one more try', async (t) => {
  const goodAnswer = `good-answer-${randomBytes(6).toString('hex')}`;
  const siteverify = await startSiteverify({ goodAnswer });
  t.after(() => siteverify.close());
  const { app } = await mfaApp(t, {
    CAPTCHA_PROVIDER: 'hcaptcha',
    CAPTCHA_SECRET: 'test-secret',
    CAPTCHA_SITEKEY: 'test-sitekey',
    CAPTCHA_VERIFY_URL: siteverify.url,
    CAPTCHA_AFTER_FAILURES: String(AFTER),
    CAPTCHA_AFTER_IP_FAILURES: '1000',
    HASH_QUEUE: '200',
  });
  const user = await newUser(app);
  const { secret } = await enrolTotp(app, user.tokens.access_token);
  // Three tokens' worth of parallel guesses, each token from a fresh right password.
  let checked = 0;
  for (let round = 0; round < 3; round++) {
    const pending = await mfaToken(app, user.email);
    const burst = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        secondStep(app, { mfa_token: pending.mfa_token, method: 'totp', code: wrongCode(secret, round * 100 + i) }),
      ),
    );
    checked += burst.filter((r) => r.json<{ error: string }>().error === 'invalid_code').length;
    for (const r of burst)
      assert.ok(
        ['invalid_code', 'captcha_required', 'invalid_grant'].includes(r.json<{ error: string }>().error),
        r.body,
      );
  }
  assert.equal(checked, AFTER, 'no more checks without a captcha than CAPTCHA_AFTER_FAILURES, whatever the tokens');
  // The right code now needs a captcha too; with a solved one it completes the login.
  const pending = await mfaToken(app, user.email);
  const demanded = await secondStep(app, { mfa_token: pending.mfa_token, method: 'totp', code: totp(secret, 1) });
  assert.equal(demanded.statusCode, 401);
  assert.equal(demanded.json<{ error: string }>().error, 'captcha_required');
  const solved = await secondStep(app, {
    mfa_token: pending.mfa_token,
    method: 'totp',
    code: totp(secret, 1),
    captcha_token: goodAnswer,
  });
  assert.equal(solved.statusCode, 200, solved.body);
});

test('repeated second-step failures for one account raise the mfa_failures_account alert', async (t) => {
  const { app, services } = await mfaApp(t, { CAPTCHA_AFTER_FAILURES: '10', ALERT_MFA_FAILURES_PER_ACCOUNT: '4' });
  const user = await newUser(app);
  const { secret } = await enrolTotp(app, user.tokens.access_token);
  const pending = await mfaToken(app, user.email);
  await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      secondStep(app, { mfa_token: pending.mfa_token, method: 'totp', code: wrongCode(secret, i) }),
    ),
  );
  await services.alerts.check();
  const alerts = (await listAlerts(services.db)).filter((a) => a.rule === 'mfa_failures_account');
  assert.equal(alerts.length, 1, JSON.stringify(alerts));
  assert.equal(alerts[0]!.severity, 'critical');
});
