// Revocation polling against a stand-in issuer: client_secret_basic, the since/until
// window, refusing tokens of ended sessions, users and clients and revoked jtis, older
// issuers without the client lists, failures, pruning, close().
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createVerifier, VerifierError, type Verifier, type VerifierOptions } from '@tessera/verifier';
import { makeKey, manualClock, signAccessToken, startStubIssuer, type RecordedRequest } from './helpers.js';

const AUDIENCE = 'https://api.example';
const CLIENT_ID = 'reports:svc é';
const CLIENT_SECRET = 'p@ss word+/=:%';

interface Lists {
  sessions: { sid: string; ended_at: number }[];
  users: { sub: string; ended_at: number }[];
  clients?: { client_id: string; ended_at: number }[];
  jtis?: { jti: string; ended_at: number }[];
}

async function setup(t: TestContext, revocation: Partial<NonNullable<VerifierOptions['revocation']>> = {}) {
  const stub = await startStubIssuer();
  const key = await makeKey('ES256');
  stub.keys = [key.publicJwk];
  const clock = manualClock();
  const lists: Lists = { sessions: [], users: [] };
  const polls: RecordedRequest[] = [];
  let answer: 'ok' | 'error' | 'garbage' = 'ok';
  stub.revoked = (request) => {
    polls.push(request);
    if (answer === 'error') return { status: 500, body: { error: 'server_error' } };
    if (answer === 'garbage') return { status: 200, body: { sessions: 'nope' } };
    return { status: 200, body: { since: Number(request.query.get('since')), until: clock.seconds(), ...lists } };
  };
  const verifier = createVerifier({
    issuer: stub.url,
    audience: AUDIENCE,
    jwksUri: stub.jwksUri,
    now: clock.now,
    revocation: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, interval: 3600, ...revocation },
  });
  t.after(async () => {
    await verifier.close();
    await stub.close();
  });
  const token = (claims: Record<string, unknown> = {}, iat = clock.seconds(), ttl = 600) =>
    signAccessToken(key, { issuer: stub.url, audience: AUDIENCE, iat, ttl, claims });
  return { stub, clock, verifier, token, lists, polls, setAnswer: (a: typeof answer) => (answer = a) };
}

async function codeOf(verifier: Verifier, token: string): Promise<string> {
  try {
    await verifier.verify(token);
    return 'valid';
  } catch (error) {
    assert.ok(error instanceof VerifierError);
    return error.code;
  }
}

test('polls with client_secret_basic (form-urlencoded id and secret) and a since window', async (t) => {
  const { verifier, polls, clock } = await setup(t, { window: 900 });
  await verifier.pollRevocations();
  const first = polls[0]!;
  const header = String(first.headers.authorization);
  assert.match(header, /^Basic [A-Za-z0-9+/]+=*$/);
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const [id, secret, ...rest] = decoded.split(':');
  assert.equal(rest.length, 0, 'colons inside id and secret are encoded');
  const formDecode = (value: string) => new URLSearchParams(`v=${value}`).get('v');
  assert.equal(formDecode(id!), CLIENT_ID);
  assert.equal(formDecode(secret!), CLIENT_SECRET);
  assert.equal(id, 'reports%3Asvc+%C3%A9', 'RFC 6749 2.3.1: spaces as +, UTF-8 percent-encoded');
  assert.equal(Number(first.query.get('since')), clock.seconds() - 900, 'the first poll reaches back one window');
});

test('a token of an ended session or user is refused with ERR_REVOKED; others pass', async (t) => {
  const { verifier, token, lists, clock } = await setup(t);
  const before = clock.seconds();
  const revokedSession = await token({ sid: 'session-ended' });
  const revokedUser = await token({ sub: 'user-disabled', sid: 'session-other' });
  const fine = await token({ sid: 'session-live' });
  clock.advance(20);
  lists.sessions.push({ sid: 'session-ended', ended_at: before + 10 });
  lists.users.push({ sub: 'user-disabled', ended_at: before });
  await verifier.pollRevocations();

  assert.equal(await codeOf(verifier, revokedSession), 'ERR_REVOKED');
  assert.equal(await codeOf(verifier, revokedUser), 'ERR_REVOKED', 'ended_at equal to iat counts as ended');
  assert.equal(await codeOf(verifier, fine), 'valid');
  assert.equal(await codeOf(verifier, await token({ sub: 'user-disabled' })), 'valid', 'issued after the user entry');
  assert.deepEqual([verifier.stats().revokedSessions, verifier.stats().revokedUsers], [1, 1]);
});

test('a token of a disabled or deleted client, or with a revoked jti, is refused with ERR_REVOKED', async (t) => {
  const { verifier, token, lists, clock } = await setup(t);
  const before = clock.seconds();
  const ofClient = await token({ sub: 'machine', client_id: 'machine' });
  const userTokenOfClient = await token({ sub: 'someone', sid: 'live', client_id: 'machine' });
  const revokedJti = await token({ sub: 'other', client_id: 'other', jti: 'jti-revoked' });
  const sameClientOtherJti = await token({ sub: 'other', client_id: 'other', jti: 'jti-kept' });
  clock.advance(20);
  lists.clients = [{ client_id: 'machine', ended_at: before }];
  lists.jtis = [{ jti: 'jti-revoked', ended_at: before + 5 }];
  await verifier.pollRevocations();

  assert.equal(await codeOf(verifier, ofClient), 'ERR_REVOKED', 'ended_at equal to iat counts as ended');
  assert.equal(await codeOf(verifier, userTokenOfClient), 'ERR_REVOKED', "a user's token of that client too");
  assert.equal(await codeOf(verifier, revokedJti), 'ERR_REVOKED');
  assert.equal(await codeOf(verifier, sameClientOtherJti), 'valid', 'only that jti');
  assert.equal(await codeOf(verifier, await token({ sub: 'machine', client_id: 'machine' })), 'valid', 'issued after');
  const stats = verifier.stats();
  assert.deepEqual([stats.revokedClients, stats.revokedTokens], [1, 1]);
});

test('an older issuer without clients and jtis lists is understood; malformed ones are a failed poll', async (t) => {
  const { verifier, token, lists, clock, polls } = await setup(t);
  const jwt = await token({ sub: 'machine', client_id: 'machine' });
  await verifier.pollRevocations();
  assert.equal(verifier.stats().revocationFailures, 0);
  assert.equal(await codeOf(verifier, jwt), 'valid');
  clock.advance(5);
  (lists as unknown as Record<string, unknown>).clients = [{ client_id: 'machine' }];
  await verifier.pollRevocations();
  assert.equal(verifier.stats().revocationFailures, 1, 'an entry without ended_at');
  (lists as unknown as Record<string, unknown>).clients = [];
  (lists as unknown as Record<string, unknown>).jtis = 'nope';
  await verifier.pollRevocations();
  assert.equal(verifier.stats().revocationFailures, 2);
  assert.ok(polls.length >= 3);
});

test('client and jti entries expire with the window like the others', async (t) => {
  const { verifier, lists, clock } = await setup(t, { window: 600 });
  lists.clients = [{ client_id: 'machine', ended_at: clock.seconds() }];
  lists.jtis = [{ jti: 'j', ended_at: clock.seconds() }];
  await verifier.pollRevocations();
  assert.deepEqual([verifier.stats().revokedClients, verifier.stats().revokedTokens], [1, 1]);
  lists.clients = [];
  lists.jtis = [];
  clock.advance(601);
  await verifier.pollRevocations();
  assert.deepEqual([verifier.stats().revokedClients, verifier.stats().revokedTokens], [0, 0]);
});

test('the next poll asks since the previous until minus the overlap', async (t) => {
  const { verifier, polls, clock } = await setup(t, { overlap: 7 });
  await verifier.pollRevocations();
  const until = clock.seconds();
  clock.advance(30);
  await verifier.pollRevocations();
  assert.equal(Number(polls[1]!.query.get('since')), until - 7);
});

test('verification waits for the first poll, so a revoked token is never let through at start-up', async (t) => {
  const stub = await startStubIssuer();
  const key = await makeKey('ES256');
  stub.keys = [key.publicJwk];
  const iat = Math.floor(Date.now() / 1000) - 5;
  stub.revoked = () => ({
    status: 200,
    body: { since: 0, until: iat + 10, sessions: [{ sid: 'gone', ended_at: iat + 1 }], users: [] },
  });
  const verifier = createVerifier({
    issuer: stub.url,
    audience: AUDIENCE,
    jwksUri: stub.jwksUri,
    revocation: { clientId: 'c', clientSecret: 's' },
  });
  t.after(async () => {
    await verifier.close();
    await stub.close();
  });
  const jwt = await signAccessToken(key, { issuer: stub.url, audience: AUDIENCE, iat, claims: { sid: 'gone' } });
  assert.equal(await codeOf(verifier, jwt), 'ERR_REVOKED');
});

test('pollRevocations() sees what changed after a poll already in flight was answered', async (t) => {
  const stub = await startStubIssuer();
  const key = await makeKey('ES256');
  stub.keys = [key.publicJwk];
  const ended: { sid: string; ended_at: number }[] = [];
  let calls = 0;
  stub.revoked = async () => {
    calls += 1;
    const snapshot = [...ended];
    // The first (start-up) poll is answered slowly, from what was true when it arrived.
    if (calls === 1) await sleep(300);
    return { status: 200, body: { since: 0, until: Math.floor(Date.now() / 1000), sessions: snapshot, users: [] } };
  };
  const verifier = createVerifier({
    issuer: stub.url,
    audience: AUDIENCE,
    jwksUri: stub.jwksUri,
    revocation: { clientId: 'c', clientSecret: 's' },
  });
  t.after(async () => {
    await verifier.close();
    await stub.close();
  });
  const jwt = await signAccessToken(key, { issuer: stub.url, audience: AUDIENCE, claims: { sid: 'late' } });
  await sleep(50);
  ended.push({ sid: 'late', ended_at: Math.floor(Date.now() / 1000) });
  await verifier.pollRevocations();
  assert.equal(calls, 2);
  assert.equal(await codeOf(verifier, jwt), 'ERR_REVOKED');
});

test('failed polls keep the last known lists', async (t) => {
  const { verifier, token, lists, clock, setAnswer } = await setup(t);
  const jwt = await token({ sid: 's1' });
  lists.sessions.push({ sid: 's1', ended_at: clock.seconds() });
  await verifier.pollRevocations();
  assert.equal(await codeOf(verifier, jwt), 'ERR_REVOKED');
  for (const answer of ['error', 'garbage'] as const) {
    setAnswer(answer);
    await verifier.pollRevocations();
    assert.equal(await codeOf(verifier, jwt), 'ERR_REVOKED', answer);
  }
  assert.equal(verifier.stats().revocationFailures, 2);
  assert.equal(verifier.stats().revokedSessions, 1);
});

test('entries older than the window are pruned, and tokens living longer than the window are refused', async (t) => {
  const { verifier, token, lists, clock } = await setup(t, { window: 600 });
  lists.sessions.push({ sid: 'old', ended_at: clock.seconds() });
  await verifier.pollRevocations();
  assert.equal(verifier.stats().revokedSessions, 1);
  lists.sessions = [];
  clock.advance(601);
  await verifier.pollRevocations();
  assert.equal(verifier.stats().revokedSessions, 0, 'no token still valid can predate the entry');
  assert.equal(await codeOf(verifier, await token({}, clock.seconds(), 601)), 'ERR_CLAIM_INVALID');
  assert.equal(await codeOf(verifier, await token({}, clock.seconds(), 600)), 'valid');
});

test('polls repeat at the interval and close() stops them', async (t) => {
  const { verifier, polls } = await setup(t, { interval: 0.05 });
  const deadline = Date.now() + 3000;
  while (polls.length < 3 && Date.now() < deadline) await sleep(20);
  assert.ok(polls.length >= 3, `polled ${polls.length} times`);
  await verifier.close();
  const atClose = polls.length;
  await sleep(300);
  assert.ok(polls.length <= atClose + 1, 'at most a poll already in flight completes after close');
  assert.equal(verifier.stats().revocationPolls, polls.length);
});

test('revocation options are checked up front', () => {
  const base = { issuer: 'https://tessera.example', audience: AUDIENCE, jwksUri: 'https://tessera.example/jwks' };
  assert.throws(() => createVerifier({ ...base, revocation: { clientId: '', clientSecret: 's' } }), TypeError);
  assert.throws(
    () => createVerifier({ ...base, revocation: { clientId: 'c', clientSecret: 's', interval: 0 } }),
    TypeError,
  );
});
