// `tessera users reset-mfa`: the way back for an account nobody else can reset over the API
// (the only admin, its phone lost): every factor goes, the user is mailed, the event audited.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';
import { cliEnv, tessera } from '../helpers/cli.js';
import { startSmtp } from '../helpers/smtp.js';
import { enrolTotp, login, mfaApp, type Tokens } from './helpers.js';

test('users reset-mfa removes every factor of the account, mails the user and is audited', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const env = await cliEnv({ SMTP_URL: smtp.url(), MFA_REQUIRED_ROLES: '' });
  const email = uniqueEmail('cli-mfa');
  const created = await tessera(['users', 'create', '--email', email, '--role', 'admin'], {
    env,
    stdin: GOOD_PASSWORD,
  });
  assert.equal(created.code, 0, created.stderr);

  // The embedded database is one process's at a time: the app closes before the command runs.
  const first = await mfaApp(t, { MFA_REQUIRED_ROLES: '' });
  const res = await login(first.app, email);
  await enrolTotp(first.app, res.json<Tokens>().access_token);
  assert.equal((await login(first.app, email)).statusCode, 401, 'the second step is asked for');
  await first.services.close();

  const reset = await tessera(['users', 'reset-mfa', '--email', email], { env });
  assert.equal(reset.code, 0, reset.stderr);
  const out = JSON.parse(reset.stdout) as { email: string; removed: number; sent: boolean };
  assert.deepEqual({ email: out.email, removed: out.removed, sent: out.sent }, { email, removed: 1, sent: true });
  await smtp.waitFor(email, { kind: 'mfa_reset' });
  assert.equal((await tessera(['users', 'reset-mfa', '--email', uniqueEmail('nobody')], { env })).code, 1);
  assert.equal((await tessera(['users', 'reset-mfa'], { env })).code, 2);

  const after = await mfaApp(t, { MFA_REQUIRED_ROLES: '' });
  assert.equal((await login(after.app, email)).statusCode, 200, 'one step again');
  const [event] = await after.services.db.query<{ actor: string }>(
    `SELECT e.actor FROM security_events e JOIN users u ON u.id = e.user_id WHERE e.type = 'mfa_reset' AND u.email = $1`,
    [email],
  );
  assert.equal(event!.actor, 'cli');
});
