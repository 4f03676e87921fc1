// ASVS V7 (session management): a sign-in on the hosted page by another account replaces the
// browser session the browser had; the replaced one opens nothing any more. (A re-login of
// the same account gets a new token too: test/authorization/reauth-token.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { build, TEST_MASTER_KEY } from '../helpers/build.js';
import { documentedDefaults, section } from './readme-settings.js';
import { Agent, callbackOf, codeRequest, newUser, pkce, registerClient, submitLogin } from '../authorization/flow.js';

const SESSION = '__Host-tessera-session';

test('another account signing in on the hosted page replaces the browser session; the old cookie opens nothing', async (t) => {
  const built = await build(t);
  const client = await registerClient(built, { first_party: true });
  const user = await newUser(built.app);
  const other = await newUser(built.app);
  const agent = new Agent(built.app);

  const first = await agent.get(codeRequest(client.client_id, pkce().challenge, { state: 'a' }));
  assert.equal(callbackOf(await submitLogin(agent, first, user)).get('state'), 'a');
  const before = agent.cookies.get(SESSION);
  assert.ok(before);

  // Another account signs in (prompt=login) while the first session is live.
  const again = await agent.get(codeRequest(client.client_id, pkce().challenge, { state: 'b', prompt: 'login' }));
  assert.equal(again.statusCode, 200);
  assert.ok(callbackOf(await submitLogin(agent, again, other)).get('code'));
  const after = agent.cookies.get(SESSION);
  assert.ok(after && after !== before, 'a new session token');

  const silent = (cookie: string) =>
    built.app.inject({
      method: 'GET',
      url: codeRequest(client.client_id, pkce().challenge, { state: 'c', prompt: 'none' }),
      cookies: { [SESSION]: cookie, '__Host-tessera-browser': agent.cookies.get('__Host-tessera-browser')! },
    });
  assert.ok(callbackOf(await silent(after)).get('code'), 'the new session signs in silently');
  assert.equal(callbackOf(await silent(before)).get('error'), 'login_required', 'the replaced one is ended');
});

test('the README documents the token and session lifetimes with the defaults the code starts with', () => {
  const config = loadConfig({ MASTER_KEY: TEST_MASTER_KEY });
  const documented = documentedDefaults();
  const expected: Record<string, number> = {
    ACCESS_TOKEN_TTL: config.accessTokenTtl,
    REFRESH_TOKEN_TTL: config.refreshTokenTtl,
    REFRESH_IDLE_TTL: config.refreshIdleTtl,
    SESSION_TTL: config.sessionTtl,
  };
  for (const [name, value] of Object.entries(expected)) assert.equal(documented.get(name), String(value), name);
  const sessions = section('Tokens and sessions');
  for (const name of ['REFRESH_TOKEN_TTL', 'REFRESH_IDLE_TTL']) assert.ok(sessions.includes(name), name);
  const sso = section('Login for apps (OpenID Connect)');
  assert.ok(sso.includes('SESSION_TTL'), 'the single sign-on session and its lifetime');
  assert.match(sso, /logout/i, 'how a sign-out ends the sessions');
  // The defaults are justified against NIST SP 800-63B, with the settings for AAL2.
  const nist = /\*\*Lifetimes against NIST SP 800-63B\*\*[^]*?(?=\n- \*\*)/.exec(sessions)?.[0] ?? '';
  assert.match(nist, /AAL1/);
  assert.match(nist, /AAL2/);
  for (const name of ['REFRESH_TOKEN_TTL', 'REFRESH_IDLE_TTL', 'SESSION_TTL', 'STEP_UP_MAX_AGE']) {
    assert.ok(nist.includes(name), `the justification names ${name}`);
  }
});
