// ASVS V3 (web frontend): the cookies the hosted pages set, and the one page script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LightMyRequestResponse } from 'fastify';
import { build } from '../helpers/build.js';
import { Agent, codeRequest, newUser, pkce, registerClient, submitLogin } from '../authorization/flow.js';

interface SetCookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: string;
}

const cookiesOf = (res: LightMyRequestResponse) => res.cookies as SetCookie[];

test('hosted-page cookies are __Host-, Secure, HttpOnly, SameSite=Lax, on / without Domain, 256 random bits each', async (t) => {
  const built = await build(t);
  const client = await registerClient(built, { first_party: true });
  const user = await newUser(built.app);
  const values = new Set<string>();
  for (let i = 0; i < 2; i++) {
    const agent = new Agent(built.app);
    const page = await agent.get(codeRequest(client.client_id, pkce().challenge, { state: `s${i}` }));
    assert.equal(page.statusCode, 200, page.body.slice(0, 200));
    const done = await submitLogin(agent, page, user);
    assert.equal(done.statusCode, 303, done.body.slice(0, 200));
    const set = [...cookiesOf(page), ...cookiesOf(done)];
    assert.deepEqual(set.map((c) => c.name).sort(), ['__Host-tessera-browser', '__Host-tessera-session']);
    for (const c of set) {
      assert.equal(c.secure, true, c.name);
      assert.equal(c.httpOnly, true, c.name);
      assert.equal(c.sameSite, 'Lax', c.name);
      assert.equal(c.path, '/', c.name);
      assert.equal(c.domain, undefined, c.name);
      assert.equal(Buffer.from(c.value, 'base64url').length, 32, c.name);
      values.add(c.value);
    }
    // The session's value goes to the browser in Set-Cookie only, never in a page or a redirect.
    const session = set.find((c) => c.name === '__Host-tessera-session')!;
    for (const res of [page, done]) {
      assert.ok(!res.body.includes(session.value));
      assert.ok(!String(res.headers.location ?? '').includes(session.value));
    }
  }
  assert.equal(values.size, 4, 'every cookie value is new');
});

test('the page script builds no markup from strings and listens to no cross-window messages', () => {
  const dir = fileURLToPath(new URL('../../src/pages/assets/', import.meta.url));
  const scripts = readdirSync(dir).filter((name) => name.endsWith('.js'));
  assert.ok(scripts.length >= 1);
  for (const name of scripts) {
    const text = readFileSync(`${dir}${name}`, 'utf8');
    for (const pattern of [
      /\.innerHTML\b/,
      /\.outerHTML\b/,
      /insertAdjacentHTML/,
      /document\.write/,
      /\beval\s*\(/,
      /new\s+Function/,
      /['"]message['"]/,
      /\bonmessage\b/,
    ]) {
      assert.doesNotMatch(text, pattern, `${name}: ${pattern}`);
    }
  }
});

test('with an https issuer every answer sends HSTS for at least a year, subdomains included', async (t) => {
  const { app } = await build(t, { ISSUER: 'https://login.example' });
  for (const url of ['/healthz', '/.well-known/jwks.json', '/no/such/route', '/oauth/authorize?client_id=x']) {
    const hsts = String((await app.inject({ method: 'GET', url })).headers['strict-transport-security']);
    const maxAge = Number(/(?:^|;\s*)max-age=(\d+)/.exec(hsts)?.[1]);
    assert.ok(maxAge >= 31_536_000, `${url}: ${hsts}`);
    assert.match(hsts, /(?:^|;\s*)includeSubDomains(?:;|$)/, url);
  }
});
