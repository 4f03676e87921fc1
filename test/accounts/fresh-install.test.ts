// A fresh install ships no account and no client: on a new, empty database the first
// start migrates it and creates nothing anyone could sign in with, so the usual default
// credentials (admin/admin, root/changeme, a client "admin" with secret "secret") fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from '../helpers/build.js';
import { emptyDatabaseEnv } from '../helpers/cli.js';

// Few guesses: each one costs a password hash, like any login.
const EMAILS = ['admin@localhost', 'admin@example.com', 'root@localhost'];
const PASSWORDS = ['admin', 'changeme', 'password1234'];
const CLIENT_IDS = ['admin', 'tessera', 'default'];
const SECRETS = ['secret', 'admin', 'changeme'];

test('a fresh install has no default account', async (t) => {
  const env = await emptyDatabaseEnv();
  const { app, services } = await build(t, env);
  const count = async (table: string) =>
    Number((await services.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
  // Migrated by the first start (the tables exist), and empty of anything to log in with.
  for (const table of ['users', 'clients', 'mfa_factors', 'sessions', 'browser_sessions', 'account_tokens']) {
    assert.equal(await count(table), 0, `${table} is empty`);
  }
  assert.ok((await count('signing_keys')) > 0, 'the first start did run (it made a signing key)');

  for (const email of EMAILS) {
    for (const password of PASSWORDS) {
      const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
      assert.ok(res.statusCode === 401 || res.statusCode === 400, `${email}/${password}: ${res.statusCode}`);
      assert.doesNotMatch(res.body, /access_token|refresh_token/);
    }
  }
  for (const clientId of CLIENT_IDS) {
    for (const secret of SECRETS) {
      const res = await app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        },
        payload: 'grant_type=client_credentials',
      });
      assert.equal(res.statusCode, 401, `${clientId}:${secret}`);
      assert.equal(res.json().error, 'invalid_client');
    }
  }
  // An admin-only route has nobody to let in.
  const admin = await app.inject({ method: 'GET', url: '/admin/users' });
  assert.equal(admin.statusCode, 401);
});
