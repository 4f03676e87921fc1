// Self-service consents (ASVS 10.7.3): a user lists the third-party clients they allowed
// and withdraws one, which ends their sessions of that client at once; another user's
// consents are neither listed nor reachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, type Built } from '../helpers/build.js';
import {
  Agent,
  REDIRECT,
  callbackOf,
  codeRequest,
  exchange,
  hiddenFields,
  newUser,
  pkce,
  registerClient,
  submitLogin,
  type RegisteredClient,
} from '../authorization/flow.js';
import { assertError, bearer, newClient, revokedList, sessionRow, sidOf, type Tokens } from './helpers.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

interface ConsentBody {
  consents: { client_id: string; client_name: string; scopes: string[]; granted_at: string }[];
}

const basicOf = (c: RegisteredClient) => ({
  authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`,
});

/** One authorization at the hosted pages: login if the agent has no browser session, consent if asked, the code exchanged. */
async function authorizeThrough(
  built: Built,
  agent: Agent,
  user: { email: string; password: string },
  client: RegisteredClient,
): Promise<{ tokens: Tokens; consentAsked: boolean }> {
  const p = pkce();
  let step = await agent.get(codeRequest(client.client_id, p.challenge, { scope: 'openid email offline_access' }));
  if (step.statusCode === 200 && step.body.includes('name="password"')) step = await submitLogin(agent, step, user);
  const consentAsked = step.statusCode === 200;
  if (consentAsked) {
    assert.match(step.body, /name="decision" value="allow"/);
    step = await agent.post('/oauth/authorize/consent', { ...hiddenFields(step.body), decision: 'allow' });
  }
  const code = callbackOf(step).get('code');
  assert.ok(code, step.body.slice(0, 300));
  const res = await exchange(
    built.app,
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: p.verifier },
    basicOf(client),
  );
  assert.equal(res.statusCode, 200, res.body);
  const tokens = res.json<Tokens>();
  assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
  return { tokens, consentAsked };
}

test('a user lists the consents they gave and withdraws one', async (t) => {
  const built = await build(t);
  const { app, services } = built;
  const photos = await registerClient(built, { type: 'confidential', first_party: false, name: 'Photos' });
  const notes = await registerClient(built, { type: 'confidential', first_party: false, name: 'Notes' });
  const alice = await newUser(app);
  const bob = await newUser(app);
  const aliceAgent = new Agent(app);
  const bobAgent = new Agent(app);

  // Alice allows Photos and uses it twice (the second time without being asked): two sessions.
  const first = await authorizeThrough(built, aliceAgent, alice, photos);
  assert.equal(first.consentAsked, true);
  const second = await authorizeThrough(built, aliceAgent, alice, photos);
  assert.equal(second.consentAsked, false, 'the consent is remembered');
  // Bob allows Notes only.
  const bobNotes = await authorizeThrough(built, bobAgent, bob, notes);
  assert.equal(bobNotes.consentAsked, true);

  // Alice's own token for the self-service API (a first-party login, a session of its own).
  const login = async (u: { email: string; password: string }) => {
    const res = await app.inject({ method: 'POST', url: '/auth/login', payload: u });
    assert.equal(res.statusCode, 200, res.body);
    return bearer(res.json<Tokens>().access_token);
  };
  const aliceAuth = await login(alice);
  const bobAuth = await login(bob);
  const list = (auth: Record<string, string>) =>
    app.inject({ method: 'GET', url: '/users/me/consents', headers: auth });
  const withdraw = (auth: Record<string, string>, clientId: string) =>
    app.inject({ method: 'DELETE', url: `/users/me/consents/${encodeURIComponent(clientId)}`, headers: auth });

  assertError(await app.inject({ method: 'GET', url: '/users/me/consents' }), 401, 'invalid_token');

  // The list: only Alice's own consent, with the client's name and the scopes she gave.
  const listed = await list(aliceAuth);
  assert.equal(listed.statusCode, 200, listed.body);
  assert.equal(listed.headers['cache-control'], 'no-store');
  const { consents } = listed.json<ConsentBody>();
  assert.equal(consents.length, 1, listed.body);
  const [consent] = consents;
  assert.deepEqual(Object.keys(consent!).sort(), ['client_id', 'client_name', 'granted_at', 'scopes']);
  assert.equal(consent!.client_id, photos.client_id);
  assert.equal(consent!.client_name, 'Photos');
  assert.deepEqual([...consent!.scopes].sort(), ['email', 'offline_access', 'openid']);
  assert.match(consent!.granted_at, ISO);
  assert.ok(!listed.body.includes(notes.client_id), "bob's consent is not in alice's list");

  // Bob's consent cannot be withdrawn by Alice: the same 404 as no consent at all, and it stays.
  const foreign = await withdraw(aliceAuth, notes.client_id);
  assertError(foreign, 404, 'not_found');
  const unknown = await withdraw(aliceAuth, 'no-such-client');
  assertError(unknown, 404, 'not_found');
  assert.equal(foreign.body, unknown.body);
  assertError(await withdraw(aliceAuth, 'not a client id!'), 400, 'invalid_request');
  const bobList = (await list(bobAuth)).json<ConsentBody>();
  assert.deepEqual(
    bobList.consents.map((c) => c.client_id),
    [notes.client_id],
  );
  assert.equal((await sessionRow(services, sidOf(bobNotes.tokens.access_token))).ended_at, null);

  // A code Photos got just before the withdrawal, not yet exchanged.
  const pending = pkce();
  const pendingStep = await aliceAgent.get(
    codeRequest(photos.client_id, pending.challenge, { scope: 'openid email offline_access' }),
  );
  const pendingCode = callbackOf(pendingStep).get('code');
  assert.ok(pendingCode, 'the remembered consent gives a code at once');

  // Alice withdraws Photos.
  const since = Math.floor(Date.now() / 1000) - 30;
  const done = await withdraw(aliceAuth, photos.client_id);
  assert.equal(done.statusCode, 204, done.body);
  // The pending code opens nothing any more.
  assertError(
    await exchange(
      app,
      { grant_type: 'authorization_code', code: pendingCode, redirect_uri: REDIRECT, code_verifier: pending.verifier },
      basicOf(photos),
    ),
    400,
    'invalid_grant',
  );
  assert.equal(done.body, '');
  assert.deepEqual((await list(aliceAuth)).json<ConsentBody>(), { consents: [] });

  // Both sessions Photos opened ended: their refresh tokens are refused and verifiers are told.
  const photoSids = [first, second].map((a) => sidOf(a.tokens.access_token));
  const watcher = await newClient(services, { introspect: true });
  const revoked = (await revokedList(app, watcher, since)).json<{ sessions: { sid: string }[] }>();
  for (const [i, a] of [first, second].entries()) {
    const res = await exchange(
      app,
      { grant_type: 'refresh_token', refresh_token: a.tokens.refresh_token },
      basicOf(photos),
    );
    assertError(res, 400, 'invalid_grant');
    const row = await sessionRow(services, photoSids[i]!);
    assert.notEqual(row.ended_at, null);
    assert.equal(row.end_reason, 'consent_withdrawn');
    assert.ok(
      revoked.sessions.some((r) => r.sid === photoSids[i]),
      'the ended session is listed in /oauth/revoked',
    );
  }
  // Alice's own first-party session and Bob's Notes session go on.
  assert.equal((await list(aliceAuth)).statusCode, 200);
  assert.ok(!revoked.sessions.some((r) => r.sid === sidOf(bobNotes.tokens.access_token)));
  const bobRefresh = await exchange(
    app,
    { grant_type: 'refresh_token', refresh_token: bobNotes.tokens.refresh_token },
    basicOf(notes),
  );
  assert.equal(bobRefresh.statusCode, 200, bobRefresh.body);

  // The audit log: one consent_withdrawn naming the client and scopes, a session_ended per session.
  const [aliceId] = await services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [alice.email]);
  const withdrawn = await services.db.query<{ client_id: string; scope: string; ended: string; outcome: string }>(
    `SELECT detail->>'client_id' AS client_id, detail->>'scope' AS scope, detail->>'sessions_ended' AS ended, outcome
       FROM security_events WHERE type = 'consent_withdrawn' AND user_id = $1`,
    [aliceId!.id],
  );
  assert.equal(withdrawn.length, 1);
  assert.equal(withdrawn[0]!.client_id, photos.client_id);
  assert.deepEqual(withdrawn[0]!.scope.split(' ').sort(), ['email', 'offline_access', 'openid']);
  assert.equal(withdrawn[0]!.ended, '2');
  assert.equal(withdrawn[0]!.outcome, 'success');
  const endedEvents = await services.db.query<{ session_id: string }>(
    `SELECT session_id FROM security_events WHERE type = 'session_ended' AND user_id = $1 ORDER BY session_id`,
    [aliceId!.id],
  );
  assert.deepEqual(endedEvents.map((e) => e.session_id).sort(), [...photoSids].sort());

  // Withdrawn once: a second time is 404, and no second event.
  assertError(await withdraw(aliceAuth, photos.client_id), 404, 'not_found');
  const events = await services.db.query(`SELECT 1 FROM security_events WHERE type = 'consent_withdrawn'`);
  assert.equal(events.length, 1);

  // The next authorization by Photos asks Alice again (her browser session is still signed in).
  const p = pkce();
  const again = await aliceAgent.get(codeRequest(photos.client_id, p.challenge, { scope: 'openid email' }));
  assert.equal(again.statusCode, 200, again.body.slice(0, 300));
  assert.match(again.body, /name="decision" value="allow"/);
  assert.doesNotMatch(again.body, /name="password"/);
  const none = await aliceAgent.get(codeRequest(photos.client_id, p.challenge, { scope: 'openid', prompt: 'none' }));
  assert.equal(callbackOf(none).get('error'), 'consent_required');
});
