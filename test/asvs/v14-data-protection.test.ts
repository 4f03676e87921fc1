// ASVS 5.0 V14 (data protection): tokens never ride in URLs, answers with tokens, secrets
// or personal data are never kept by a cache, and the hosted pages keep nothing in the
// browser's storage.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, registerAndLogin, userWithRoles, type Built } from '../helpers/build.js';

const ROOT = join(import.meta.dirname, '..', '..');

let built: Built;
before(async () => {
  // One app for the file, closed once every test has run.
  built = await build({ after: () => {} });
});
after(() => built.services.close());

test('an access token in the query string is never accepted', async () => {
  const { tokens } = await registerAndLogin(built.app);
  const token = encodeURIComponent(tokens.access_token);
  // The header works, so the refusals below are about where the token was put.
  const good = await built.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(good.statusCode, 200, good.body);
  for (const url of [
    `/userinfo?access_token=${token}`,
    `/users/me?access_token=${token}`,
    `/users/me/sessions?access_token=${token}`,
    `/userinfo?token=${token}`,
  ]) {
    const res = await built.app.inject({ method: 'GET', url });
    assert.ok([400, 401].includes(res.statusCode), `${url.split('?')[0]}: ${res.statusCode}`);
    assert.doesNotMatch(res.body, /"sub"|"email"/, 'no profile');
  }
  const post = await built.app.inject({
    method: 'POST',
    url: `/userinfo?access_token=${token}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: '',
  });
  assert.ok([400, 401].includes(post.statusCode), `POST /userinfo?access_token: ${post.statusCode}`);
  // The refresh token neither: the token endpoint reads only its form body.
  const refresh = await built.app.inject({
    method: 'POST',
    url: `/oauth/token?grant_type=refresh_token&refresh_token=${encodeURIComponent(tokens.refresh_token)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: '',
  });
  assert.equal(refresh.statusCode, 400, refresh.body);
  assert.equal(refresh.json<{ access_token?: string }>().access_token, undefined);
});

test('answers carrying tokens, secrets or personal data are never stored by a cache', async () => {
  const admin = await userWithRoles(built, ['admin']);
  const { email, password, tokens } = await registerAndLogin(built.app);
  const user = { authorization: `Bearer ${tokens.access_token}` };
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const answers = {
    login: await built.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } }),
    refresh: await built.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: form,
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }).toString(),
    }),
    userinfo: await built.app.inject({ method: 'GET', url: '/userinfo', headers: user }),
    me: await built.app.inject({ method: 'GET', url: '/users/me', headers: user }),
    sessions: await built.app.inject({ method: 'GET', url: '/users/me/sessions', headers: user }),
    client: await built.app.inject({
      method: 'POST',
      url: '/admin/clients',
      headers: admin.auth,
      payload: { name: 'cached?', scope: 'orders:read' },
    }),
    users: await built.app.inject({ method: 'GET', url: '/admin/users', headers: admin.auth }),
    audit: await built.app.inject({ method: 'GET', url: '/admin/audit', headers: admin.auth }),
    refused: await built.app.inject({ method: 'GET', url: '/userinfo', headers: { authorization: 'Bearer nope' } }),
  };
  for (const [name, res] of Object.entries(answers)) {
    assert.ok(res.statusCode < 500, `${name}: ${res.statusCode} ${res.body}`);
    assert.equal(res.headers['cache-control'], 'no-store', `${name}: Cache-Control`);
    assert.equal(res.headers.etag, undefined, `${name}: no validator to cache by`);
  }
  assert.equal(answers.login.statusCode, 200);
  assert.equal(answers.client.statusCode, 201, answers.client.body);
});

test('the page script keeps nothing in browser storage', () => {
  const dirs = ['src/pages/assets', 'src/pages/templates'];
  let files = 0;
  for (const dir of dirs)
    for (const name of readdirSync(join(ROOT, dir))) {
      const text = readFileSync(join(ROOT, dir, name), 'utf8');
      files += 1;
      assert.doesNotMatch(
        text,
        /localStorage|sessionStorage|indexedDB|document\.cookie|caches\.open|serviceWorker|openDatabase/,
        `${dir}/${name}`,
      );
    }
  assert.ok(files >= 5, `${files} page files read`);
});

test('the README classifies sensitive data and gives each level its rules', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Sensitive data\n');
  assert.ok(start >= 0, 'a "Sensitive data" section');
  const end = readme.indexOf('\n#', start + 20);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const header = section.split('\n').find((l) => l.startsWith('| level |'));
  assert.ok(header, 'a table of levels');
  for (const column of ['stored as', 'in logs', 'leaves Tessera', 'kept']) assert.ok(header.includes(column), column);
  const rows = new Map(
    section
      .split('\n')
      .filter((l) => /^\| `[a-z]+` \|/.test(l))
      .map((l) => [/^\| `([a-z]+)`/.exec(l)![1]!, l]),
  );
  for (const level of ['secret', 'personal', 'bearer', 'public']) assert.ok(rows.has(level), `level ${level}`);
  // The data the rest of the matrix protects has its level.
  const placed = (words: string[], level: string) =>
    words.forEach((w) => assert.match(rows.get(level)!, new RegExp(w, 'i'), `${w} is ${level}`));
  placed(
    [
      'passwords',
      'master key',
      'private signing keys',
      'client secrets',
      'refresh tokens',
      'TOTP secrets',
      'recovery codes',
    ],
    'secret',
  );
  placed(['email addresses', 'IP address'], 'personal');
  placed(['access tokens', 'ID tokens'], 'bearer');
});
