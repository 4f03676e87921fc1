// The browser-less user agent the protocol tests drive the hosted pages with: its cookie
// jar keeps cookies as Chromium does (prefixes, Secure on loopback http, Path, expiry), its
// forms are submitted as a browser submits them, and with it a relying party that holds
// only openid-client completes a login and a logout against a listening Tessera.
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CookieJar, HtmlAgent, parseForms } from '../helpers/html-agent.js';
import { world } from './helpers.js';

describe('CookieJar', () => {
  const local = new URL('http://localhost:3000/oauth/authorize');
  it('keeps a __Host- cookie from loopback http (Secure, Path=/, no Domain) and sends it back', () => {
    const jar = new CookieJar();
    jar.store(local, ['__Host-s=abc; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=60']);
    assert.equal(jar.header(new URL('http://localhost:3000/users/me')), '__Host-s=abc');
    assert.equal(jar.get('__Host-s')?.httpOnly, true);
    assert.equal(jar.header(new URL('http://127.0.0.1:3000/')), undefined, 'host-only: not another host');
  });
  it('refuses __Host- cookies with a Domain, another Path, no Path or no Secure; __Secure- without Secure', () => {
    const jar = new CookieJar();
    jar.store(local, [
      '__Host-a=1; Path=/; Secure; Domain=localhost',
      '__Host-b=1; Path=/oauth; Secure',
      '__Host-c=1; Secure',
      '__Host-d=1; Path=/',
      '__Secure-e=1; Path=/',
    ]);
    assert.deepEqual(jar.all(), []);
  });
  it('refuses Secure cookies from plain http on another host', () => {
    const jar = new CookieJar();
    jar.store(new URL('http://example.test/'), ['s=1; Secure; Path=/', 'p=2; Path=/']);
    assert.deepEqual(
      jar.all().map((c) => c.name),
      ['p'],
    );
  });
  it('scopes by Path (prefix at a "/" boundary) and by default to the directory', () => {
    const jar = new CookieJar();
    jar.store(local, ['a=1; Path=/oauth', 'b=2']);
    assert.equal(jar.header(new URL('http://localhost:3000/oauth/token')), 'a=1; b=2');
    assert.equal(jar.header(new URL('http://localhost:3000/oauthx')), undefined);
    assert.equal(jar.header(new URL('http://localhost:3000/users')), undefined);
  });
  it('forgets cookies at Max-Age=0 and past Expires, and replaces by name, domain and path', () => {
    const jar = new CookieJar();
    jar.store(local, ['a=1; Path=/', 'b=1; Path=/']);
    jar.store(local, ['a=; Path=/; Max-Age=0', 'b=2; Path=/', 'c=3; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT']);
    assert.equal(jar.header(local), 'b=2');
  });
});

describe('parseForms', () => {
  it('reads the post form as a browser submits it', () => {
    const html = `<form method="get" action="/search"><input name="q" value="x"></form>
      <form method="post" action="/oauth/authorize/login">
        <input type="hidden" name="interaction" value="i-1"><input type="hidden" name="csrf_token" value="t&amp;1">
        <input name="email" value="">
        <input type="checkbox" name="remember"><input type="checkbox" name="terms" value="yes" checked>
        <input name="off" value="1" disabled>
        <button type="submit" name="decision" value="allow">Allow</button><button type="button">x</button>
      </form>`;
    const [search, login] = parseForms(html, 'http://localhost:3000/oauth/authorize?client_id=c');
    assert.equal(search?.method, 'get');
    assert.equal(login?.action, 'http://localhost:3000/oauth/authorize/login');
    assert.deepEqual(login?.controls, [
      ['interaction', 'i-1'],
      ['csrf_token', 't&1'],
      ['email', ''],
      ['terms', 'yes'],
    ]);
    assert.deepEqual(login?.buttons, [{ name: 'decision', value: 'allow', text: 'Allow', formaction: undefined }]);
  });
});

test('HtmlAgent sends the metadata a browser sends with a form post', async (t) => {
  const seen: Record<string, string | undefined>[] = [];
  const server = createServer((req, res) => {
    seen.push({
      origin: req.headers.origin,
      site: req.headers['sec-fetch-site'],
      type: req.headers['content-type'],
      cookie: req.headers.cookie,
    });
    const policy = req.url === '/strict' ? 'no-referrer' : 'strict-origin-when-cross-origin';
    res.writeHead(200, { 'content-type': 'text/html', 'referrer-policy': policy, 'set-cookie': 'k=v; Path=/' });
    res.end('<form method="post" action="/done"><input type="hidden" name="a" value="1"><button>Go</button></form>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new HtmlAgent();
  await agent.submitForm(await agent.get(`${base}/open`), { fields: { b: '2' } });
  await agent.submitForm(await agent.get(`${base}/strict`));
  assert.deepEqual(seen, [
    { origin: undefined, site: 'none', type: undefined, cookie: undefined },
    { origin: base, site: 'same-origin', type: 'application/x-www-form-urlencoded', cookie: 'k=v' },
    { origin: undefined, site: 'none', type: undefined, cookie: 'k=v' },
    { origin: 'null', site: 'same-origin', type: 'application/x-www-form-urlencoded', cookie: 'k=v' },
  ]);
});

test('without a browser: an openid-client relying party logs in and out through the agent', async (t) => {
  const w = await world(t);
  const { server, user, firstParty, thirdParty } = w;
  const agent = new HtmlAgent();

  const login = await agent.get(firstParty.loginUrl(), { follow: true });
  assert.equal(login.status, 200, login.body);
  assert.equal(new URL(login.url).pathname, '/oauth/authorize');
  assert.ok(agent.jar.get('__Host-tessera-browser'), 'the binding cookie is kept');
  const [form] = parseForms(login.body, login.url).filter((f) => f.method === 'post');
  assert.equal(form?.action, `${server.url}/oauth/authorize/login`);
  assert.deepEqual(form?.controls.map(([name]) => name).sort(), ['csrf_token', 'email', 'interaction', 'password']);

  const wrong = await agent.submitForm(login, { fields: { email: user.email, password: 'not-it-at-all-1' } });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);

  const done = await agent.submitForm(wrong, { fields: { email: user.email, password: user.password } });
  assert.ok([302, 303].includes(done.status), `a redirect to the client: ${done.status} ${done.body}`);
  assert.equal(done.location?.split('?')[0], firstParty.callbackUrl);
  const session = agent.jar.get('__Host-tessera-session');
  assert.ok(session && session.secure && session.httpOnly && session.path === '/', 'the session cookie is kept');
  const callback = await agent.follow(done);
  assert.match(callback.body, /signed in/, callback.body);
  assert.equal(firstParty.lastSuccess().claims.sub, user.id);

  // Single sign-on for the third party: straight to its consent page.
  const consent = await agent.get(thirdParty.loginUrl(), { follow: true });
  assert.equal(consent.status, 200);
  const allowed = await agent.submitForm(consent, { button: 'allow', follow: true });
  assert.match(allowed.body, /signed in/, allowed.body);

  // RP-initiated logout with the hint: back at the relying party, both sessions ended.
  const out = await agent.get(`${firstParty.url}/logout?state=s-1`, { follow: true });
  assert.equal(out.url.split('?')[0], firstParty.postLogoutRedirectUri, out.body);
  assert.equal(
    (await thirdParty.refresh(thirdParty.lastSuccess().tokens.refresh_token!)).error?.error,
    'invalid_grant',
  );
  const again = await agent.get(firstParty.loginUrl(), { follow: true });
  assert.equal(again.status, 200);
  assert.match(again.body, /name="password"/, 'the login page again');
});
