// Admin user management and self-service erasure: creating users (with a password or an
// invitation), erasing them (data, sessions, revocation feed, audit keeps the id only, the
// last admin kept), moving an account to a new address, and an admin's reset mail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GOOD_PASSWORD, refresh, registerAndLogin, uniqueEmail, userWithRoles } from '../helpers/build.js';
import { newClient, revokedList } from '../access/helpers.js';
import { accountsApp, login, tokenFrom, verify } from './helpers.js';

const NEW_PASSWORD = 'invited-user-pass-phrase-9';

test('POST /admin/users: a verified account with a password, or an invitation to set one', async (t) => {
  const built = await accountsApp(t, { REGISTRATION: 'closed' });
  const { app, smtp, services } = built;
  const admin = await userWithRoles(built, ['admin']);
  const create = (payload: object, auth = admin.auth) =>
    app.inject({ method: 'POST', url: '/admin/users', headers: auth, payload });

  const direct = uniqueEmail('direct');
  const made = await create({ email: direct, password: GOOD_PASSWORD, roles: ['moderator'] });
  assert.equal(made.statusCode, 201, made.body);
  const view = made.json<{ id: string; email: string; roles: string[]; email_verified: boolean }>();
  assert.equal(view.email, direct);
  assert.deepEqual(view.roles, ['moderator']);
  assert.equal(view.email_verified, true);
  assert.ok(!('password_hash' in view));
  // Verification is required here, and an admin's user counts as verified.
  assert.equal((await login(app, direct, GOOD_PASSWORD)).statusCode, 200);

  const invited = uniqueEmail('invited');
  const inv = await create({ email: invited, invite: true });
  assert.equal(inv.statusCode, 201, inv.body);
  // No password works before the invitation is followed.
  assert.equal((await login(app, invited, GOOD_PASSWORD)).statusCode, 401);
  const token = await tokenFrom(smtp, invited, 'invitation');
  const mail = await smtp.waitFor(invited, { kind: 'invitation' });
  assert.match(mail.text, /\/account\/password-reset\/confirm\?token=/);
  const set = await app.inject({
    method: 'POST',
    url: '/users/password-reset/confirm',
    payload: { token, password: NEW_PASSWORD },
  });
  assert.equal(set.statusCode, 204);
  assert.equal((await login(app, invited, NEW_PASSWORD)).statusCode, 200);

  const bad = async (payload: object, status: number, error: string) => {
    const res = await create(payload);
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.json<{ error: string }>().error, error);
  };
  await bad({ email: direct, password: GOOD_PASSWORD }, 409, 'email_taken');
  await bad({ email: uniqueEmail('neither') }, 400, 'invalid_request');
  await bad({ email: uniqueEmail('both'), password: GOOD_PASSWORD, invite: true }, 400, 'invalid_request');
  await bad({ email: uniqueEmail('weak'), password: 'short' }, 400, 'weak_password');
  await bad({ email: uniqueEmail('extra'), password: GOOD_PASSWORD, email_verified: false }, 400, 'invalid_request');
  await bad({ email: 'a,b@example.com', password: GOOD_PASSWORD }, 400, 'invalid_request');

  const moderator = await userWithRoles(built, ['moderator']);
  const refused = await create({ email: uniqueEmail('by-mod'), password: GOOD_PASSWORD }, moderator.auth);
  assert.equal(refused.statusCode, 403);
  const anonymous = await app.inject({
    method: 'POST',
    url: '/admin/users',
    payload: { email: uniqueEmail(), invite: true },
  });
  assert.equal(anonymous.statusCode, 401);
  const [events] = await services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM security_events WHERE type = 'user_created'`,
  );
  assert.equal(events!.n, 2);
});

test('DELETE /admin/users/{id} erases the account: data, sessions, tokens in the feed; the audit log keeps the id', async (t) => {
  const built = await accountsApp(t, { EMAIL_VERIFICATION: 'off' });
  const { app, smtp, services } = built;
  const admin = await userWithRoles(built, ['admin']);
  const inspector = await newClient(services, { introspect: true, scopes: ['introspection'], name: 'gateway' });
  const target = await userWithRoles(built, ['user']);
  const since = Math.floor(Date.now() / 1000) - 1;

  const res = await app.inject({ method: 'DELETE', url: `/admin/users/${target.id}`, headers: admin.auth });
  assert.equal(res.statusCode, 204, res.body);
  assert.equal((await login(app, target.email, GOOD_PASSWORD)).statusCode, 401);
  assert.equal((await refresh(app, target.tokens.refresh_token)).statusCode, 400);
  const me = await app.inject({ method: 'GET', url: '/users/me', headers: target.auth });
  assert.equal(me.statusCode, 401);
  for (const table of ['users', 'sessions', 'browser_sessions', 'account_tokens']) {
    const column = table === 'users' ? 'id' : 'user_id';
    const [row] = await services.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`,
      [target.id],
    );
    assert.equal(row!.n, 0, `${table} keeps nothing of the user`);
  }
  // The audit log keeps the pseudonymous id, and nowhere the address.
  const events = await services.db.query<{ type: string; detail: unknown; user_id: string }>(
    'SELECT type, detail, user_id FROM security_events WHERE user_id = $1',
    [target.id],
  );
  assert.ok(events.some((e) => e.type === 'user_deleted'));
  const everything = JSON.stringify(await services.db.query('SELECT * FROM security_events'));
  assert.ok(!everything.includes(target.email), 'no address in the audit log');

  const feed = await revokedList(app, inspector, since);
  assert.equal(feed.statusCode, 200, feed.body);
  assert.ok(feed.json<{ users: { sub: string }[] }>().users.some((u) => u.sub === target.id));
  await smtp.waitFor(target.email, { kind: 'account_deleted' });

  const again = await app.inject({ method: 'DELETE', url: `/admin/users/${target.id}`, headers: admin.auth });
  assert.equal(again.statusCode, 404);
  const moderator = await userWithRoles(built, ['moderator']);
  const victim = await userWithRoles(built, ['user']);
  const refused = await app.inject({ method: 'DELETE', url: `/admin/users/${victim.id}`, headers: moderator.auth });
  assert.equal(refused.statusCode, 403);
});

test('the last enabled admin cannot be deleted, even by two admins deleting each other at once', async (t) => {
  const built = await accountsApp(t, { EMAIL_VERIFICATION: 'off' });
  const { app, services } = built;
  // This file's database may hold admins of other tests: disable them for this one.
  await services.db.query(`UPDATE users SET disabled = true WHERE 'admin' = ANY(roles)`);
  const a = await userWithRoles(built, ['admin']);
  const b = await userWithRoles(built, ['admin']);
  const [ab, ba] = await Promise.all([
    app.inject({ method: 'DELETE', url: `/admin/users/${b.id}`, headers: a.auth }),
    app.inject({ method: 'DELETE', url: `/admin/users/${a.id}`, headers: b.auth }),
  ]);
  const codes = [ab.statusCode, ba.statusCode].sort();
  // One wins; the other is refused (400 last admin, or 401 because its own token died with it).
  assert.equal(codes.filter((c) => c === 204).length, 1, `${ab.body} ${ba.body}`);
  const [left] = await services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM users WHERE 'admin' = ANY(roles) AND NOT disabled`,
  );
  assert.equal(left!.n, 1);
  const survivor = ab.statusCode === 204 ? a : b;
  const self = await app.inject({
    method: 'DELETE',
    url: '/users/me',
    headers: survivor.auth,
    payload: { password: GOOD_PASSWORD },
  });
  assert.equal(self.statusCode, 400);
  assert.match(self.json<{ error_description: string }>().error_description, /last enabled admin/);
});

test('DELETE /users/me needs the current password, counted like a login', async (t) => {
  const built = await accountsApp(t, { EMAIL_VERIFICATION: 'off' });
  const { app, services } = built;
  const { email, tokens } = await registerAndLogin(app);
  const auth = { authorization: `Bearer ${tokens.access_token}` };
  const wrong = await app.inject({
    method: 'DELETE',
    url: '/users/me',
    headers: auth,
    payload: { password: 'nope-nope-nope' },
  });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json<{ error: string }>().error, 'invalid_credentials');
  const [failure] = await services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM security_events WHERE type = 'account_delete_failure'`,
  );
  assert.equal(failure!.n, 1);
  const ok = await app.inject({
    method: 'DELETE',
    url: '/users/me',
    headers: auth,
    payload: { password: GOOD_PASSWORD },
  });
  assert.equal(ok.statusCode, 204);
  assert.equal((await login(app, email, GOOD_PASSWORD)).statusCode, 401);
  const [row] = await services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE email = $1', [
    email,
  ]);
  assert.equal(row!.n, 0);
});

test('an email change takes effect when the new address confirms; the old one is told', async (t) => {
  const built = await accountsApp(t, { EMAIL_VERIFICATION: 'off' });
  const { app, smtp } = built;
  const admin = await userWithRoles(built, ['admin']);
  const user = await userWithRoles(built, ['user']);
  const next = uniqueEmail('moved');
  const patch = await app.inject({
    method: 'PATCH',
    url: `/admin/users/${user.id}`,
    headers: admin.auth,
    payload: { email: next },
  });
  assert.equal(patch.statusCode, 200, patch.body);
  assert.equal(patch.json<{ email: string }>().email, user.email, 'nothing moves before the confirmation');
  assert.equal((await login(app, user.email, GOOD_PASSWORD)).statusCode, 200);
  const token = await tokenFrom(smtp, next, 'email_change');
  const done = await verify(app, token);
  assert.equal(done.statusCode, 200, done.body);
  assert.deepEqual(done.json(), { email: next, email_verified: true });
  await smtp.waitFor(user.email, { kind: 'email_changed' });
  assert.equal((await login(app, next, GOOD_PASSWORD)).statusCode, 200);
  assert.equal((await login(app, user.email, GOOD_PASSWORD)).statusCode, 401);
  assert.equal((await verify(app, token)).statusCode, 400);

  const taken = await app.inject({
    method: 'PATCH',
    url: `/admin/users/${user.id}`,
    headers: admin.auth,
    payload: { email: admin.email },
  });
  assert.equal(taken.statusCode, 409);
  const moderator = await userWithRoles(built, ['moderator']);
  const byModerator = await app.inject({
    method: 'PATCH',
    url: `/admin/users/${user.id}`,
    headers: moderator.auth,
    payload: { email: uniqueEmail('mod') },
  });
  assert.equal(byModerator.statusCode, 403);

  // Self-service: the current password, and 202 whether or not the address is free.
  const self = await userWithRoles(built, ['user']);
  const own = uniqueEmail('own-new');
  const change = (email: string, password = GOOD_PASSWORD) =>
    app.inject({ method: 'POST', url: '/users/me/email', headers: self.auth, payload: { email, password } });
  assert.equal((await change(own, 'wrong-password-here')).statusCode, 401);
  const free = await change(own);
  const busy = await change(admin.email);
  assert.equal(free.statusCode, 202);
  assert.equal(busy.statusCode, 202);
  assert.equal(free.body, busy.body);
  assert.equal((await verify(app, await tokenFrom(smtp, own, 'email_change'))).statusCode, 200);
  assert.equal((await login(app, own, GOOD_PASSWORD)).statusCode, 200);
});

test('an admin sends a reset mail; the link works like a requested one', async (t) => {
  const built = await accountsApp(t, { EMAIL_VERIFICATION: 'off' });
  const { app, smtp } = built;
  const admin = await userWithRoles(built, ['admin']);
  const user = await userWithRoles(built, ['user']);
  const sent = await app.inject({ method: 'POST', url: `/admin/users/${user.id}/password-reset`, headers: admin.auth });
  assert.equal(sent.statusCode, 202, sent.body);
  const token = await tokenFrom(smtp, user.email, 'password_reset');
  const set = await app.inject({
    method: 'POST',
    url: '/users/password-reset/confirm',
    payload: { token, password: NEW_PASSWORD },
  });
  assert.equal(set.statusCode, 204);
  assert.equal((await login(app, user.email, NEW_PASSWORD)).statusCode, 200);
  const unknown = await app.inject({
    method: 'POST',
    url: '/admin/users/00000000-0000-4000-8000-000000000000/password-reset',
    headers: admin.auth,
  });
  assert.equal(unknown.statusCode, 404);
});
