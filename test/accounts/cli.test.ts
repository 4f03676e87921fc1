// `tessera users create` makes a verified account; `tessera users reset-password` mails a
// reset link at once through SMTP_URL (a real SMTP server on 127.0.0.1).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';
import { cliEnv, tessera } from '../helpers/cli.js';
import { linkFrom, startSmtp } from '../helpers/smtp.js';
import { accountsApp, login } from './helpers.js';

test('users create is verified; users reset-password mails a working link', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const env = await cliEnv({ SMTP_URL: smtp.url(), EMAIL_VERIFICATION: 'required' });
  const email = uniqueEmail('cli-reset');
  const created = await tessera(['users', 'create', '--email', email], { env, stdin: GOOD_PASSWORD });
  assert.equal(created.code, 0, created.stderr);

  const sent = await tessera(['users', 'reset-password', '--email', email.toUpperCase()], { env });
  assert.equal(sent.code, 0, sent.stderr);
  const out = JSON.parse(sent.stdout) as { id: string; email: string; sent: boolean };
  assert.equal(out.email, email);
  assert.equal(out.sent, true);
  assert.ok(!sent.stdout.includes('token'), 'the link is never printed');
  const mail = await smtp.waitFor(email, { kind: 'password_reset' });
  const token = new URL(linkFrom(mail)).searchParams.get('token')!;
  const unknown = await tessera(['users', 'reset-password', '--email', uniqueEmail('nobody')], { env });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no user with email/);
  const usage = await tessera(['users', 'reset-password'], { env });
  assert.equal(usage.code, 2);

  // The embedded database is one process's at a time: the app opens it after the commands.

  const { app } = await accountsApp(t);
  assert.equal((await login(app, email, GOOD_PASSWORD)).statusCode, 200, 'a CLI user counts as verified');
  const set = await app.inject({
    method: 'POST',
    url: '/users/password-reset/confirm',
    payload: { token, password: 'cli-reset-new-pass-4455' },
  });
  assert.equal(set.statusCode, 204);
  assert.equal((await login(app, email, 'cli-reset-new-pass-4455')).statusCode, 200);
});
