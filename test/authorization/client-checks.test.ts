// What a standard relying party (openid-client, unmodified, its HTTP through app.inject)
// refuses on its side: a forged or missing state, a wrong nonce, and an ID token replayed
// into another client. Tessera must give it everything it needs to decide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { FastifyInstance } from 'fastify';
import { build } from '../helpers/build.js';
import { Agent, callbackOf, codeRequest, newUser, registerClient, submitLogin } from './flow.js';

const ISSUER = 'http://localhost:3000';

/** openid-client wraps the reason: match it in the error or its cause. */
const about = (what: RegExp) => (error: unknown) => {
  const e = error as { message?: string; cause?: { message?: string } };
  assert.match(`${e.message} ${e.cause?.message ?? ''}`, what);
  return true;
};

/** fetch over app.inject, so the client library's own HTTP code runs unchanged. */
function injectFetch(app: FastifyInstance): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = Object.fromEntries(new Headers(init?.headers));
    const res = await app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: url.pathname + url.search,
      headers,
      ...(init?.body ? { payload: String(init.body as string | URLSearchParams) } : {}),
    });
    const out = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) out.set(name, Array.isArray(value) ? value.join(', ') : String(value));
    }
    return new Response(res.statusCode === 304 ? null : res.rawPayload, { status: res.statusCode, headers: out });
  };
}

test('openid-client refuses a forged or missing state and a wrong nonce; the right ones pass', async (t) => {
  const built = await build(t);
  const client = await registerClient(built, { type: 'public', first_party: true });
  const user = await newUser(built.app);
  const config = await oidc.discovery(new URL(ISSUER), client.client_id, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
    [oidc.customFetch]: injectFetch(built.app),
  });
  const agent = new Agent(built.app);

  /** One authorization: the callback URL and the values the client kept. */
  const authorize = async (first: boolean) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = codeRequest(client.client_id, await oidc.calculatePKCECodeChallenge(verifier), {
      scope: 'openid email',
      state,
      nonce,
    });
    const page = await agent.get(url);
    const res = first ? await submitLogin(agent, page, user) : page;
    callbackOf(res);
    return { callback: new URL(String(res.headers.location)), verifier, state, nonce };
  };

  const a = await authorize(true);
  await assert.rejects(
    oidc.authorizationCodeGrant(config, a.callback, {
      pkceCodeVerifier: a.verifier,
      expectedState: oidc.randomState(),
      expectedNonce: a.nonce,
    }),
    about(/state/i),
    'a state the client did not send',
  );
  const stripped = new URL(a.callback);
  stripped.searchParams.delete('state');
  await assert.rejects(
    oidc.authorizationCodeGrant(config, stripped, {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
      expectedNonce: a.nonce,
    }),
    about(/state/i),
    'no state at all',
  );
  // The state checks ran before any exchange: the same code still works, once.
  const tokens = await oidc.authorizationCodeGrant(config, a.callback, {
    pkceCodeVerifier: a.verifier,
    expectedState: a.state,
    expectedNonce: a.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  assert.equal(claims.nonce, a.nonce);
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.aud, client.client_id);
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.email, user.email);

  const b = await authorize(false);
  await assert.rejects(
    oidc.authorizationCodeGrant(config, b.callback, {
      pkceCodeVerifier: b.verifier,
      expectedState: b.state,
      expectedNonce: oidc.randomNonce(),
    }),
    about(/nonce/i),
    'an ID token for another authorization request',
  );

  // The refresh keeps the session and answers a fresh ID token for the same user.
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  assert.equal(refreshed.claims()?.sub, claims.sub);
  assert.equal(refreshed.claims()?.sid, claims.sid);

  // An ID token issued to one client is refused by another (aud).
  const other = await registerClient(built, { type: 'public', first_party: true, name: 'Other' });
  const otherConfig = await oidc.discovery(new URL(ISSUER), other.client_id, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
    [oidc.customFetch]: injectFetch(built.app),
  });
  const c = await authorize(false);
  const stolen = new URL(c.callback);
  await assert.rejects(
    oidc.authorizationCodeGrant(otherConfig, stolen, {
      pkceCodeVerifier: c.verifier,
      expectedState: c.state,
      expectedNonce: c.nonce,
    }),
    (error: unknown) => {
      assert.equal((error as { error?: string }).error, 'invalid_grant', 'Tessera refuses a code of another client');
      return true;
    },
  );
});
