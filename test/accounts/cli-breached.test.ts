// `tessera users create` looks a new password up in the breached-password range API as
// the server does (a real range server on 127.0.0.1), so the first admin cannot start
// with a breached password either.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';
import { cliEnv, tessera } from '../helpers/cli.js';
import { startRangeServer } from './range-server.js';

test('users create refuses a breached password and accepts a clean one', async (t) => {
  const range = await startRangeServer();
  t.after(() => range.stop());
  const breached = 'correct-horse-battery-staple-9';
  range.list(breached, 3);
  const env = await cliEnv({ BREACHED_PASSWORDS_URL: range.url });

  const refused = await tessera(['users', 'create', '--email', uniqueEmail('cli-breached')], { env, stdin: breached });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /data breach/);
  assert.ok(!refused.stderr.includes(breached), 'the password is never echoed');

  const created = await tessera(['users', 'create', '--email', uniqueEmail('cli-clean')], {
    env,
    stdin: GOOD_PASSWORD,
  });
  assert.equal(created.code, 0, created.stderr);
  assert.equal(range.requests.length, 2);
});
