// MAX_SESSIONS_PER_USER: a login past the limit ends the user's least recently used
// session (audited, listed as revoked, its refresh token refused), and a burst of parallel
// logins of one user never leaves more than the limit live.
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GOOD_PASSWORD, refresh, uniqueEmail, type Built } from '../helpers/build.js';
import { assertError, bearer, newClient, revokedList, sidOf, type Tokens } from '../access/helpers.js';
import { suiteApp } from '../routes/suite-app.js';
import { openSession } from '../../src/sessions/session-limit.js';

const LIMIT = 5;

const built = suiteApp({ MAX_SESSIONS_PER_USER: String(LIMIT) });

async function newUser(b: Built): Promise<string> {
  const email = uniqueEmail('sessions');
  const res = await b.app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
  assert.equal(res.statusCode, 201, res.body);
  return email;
}

async function login(b: Built, email: string): Promise<Tokens> {
  const res = await b.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: GOOD_PASSWORD } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Tokens>();
}

async function liveSessions(b: Built, email: string): Promise<string[]> {
  const rows = await b.services.db.query<{ id: string }>(
    `SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE u.email = $1 AND s.ended_at IS NULL AND s.expires_at > now() ORDER BY s.id`,
    [email],
  );
  return rows.map((r) => r.id);
}

test('a login past MAX_SESSIONS_PER_USER ends the least recently used session', async () => {
  const b = built();
  const watcher = await newClient(b.services, { introspect: true });
  const since = Math.floor(Date.now() / 1000) - 2;
  const email = await newUser(b);
  const sessions: Tokens[] = [];
  for (let i = 0; i < LIMIT; i++) sessions.push(await login(b, email));
  assert.equal((await liveSessions(b, email)).length, LIMIT, 'up to the limit nothing ends');

  // The oldest login is used again: the second one is now the least recently used.
  const used = await refresh(b.app, sessions[0]!.refresh_token);
  assert.equal(used.statusCode, 200, used.body);
  const first = used.json<Tokens>();
  const lru = sessions[1]!;

  const newest = await login(b, email);
  const live = await liveSessions(b, email);
  assert.equal(live.length, LIMIT);
  assert.ok(!live.includes(sidOf(lru.access_token)), 'the least recently used session ended');
  assert.ok(live.includes(sidOf(first.access_token)), 'the oldest but recently used one stays');
  assert.ok(live.includes(sidOf(newest.access_token)), 'the new one stays');

  // Ended like any other session: refresh refused, access token refused, listed as revoked.
  assertError(await refresh(b.app, lru.refresh_token), 400, 'invalid_grant');
  assertError(
    await b.app.inject({ method: 'GET', url: '/users/me', headers: bearer(lru.access_token) }),
    401,
    'invalid_token',
  );
  assert.equal((await refresh(b.app, first.refresh_token)).statusCode, 200, 'the others still work');
  const revoked = await revokedList(b.app, watcher, since);
  assert.equal(revoked.statusCode, 200, revoked.body);
  assert.ok(
    revoked.json<{ sessions: { sid: string }[] }>().sessions.some((s) => s.sid === sidOf(lru.access_token)),
    'verifiers learn of it from /oauth/revoked',
  );

  const [row] = await b.services.db.query<{ end_reason: string }>('SELECT end_reason FROM sessions WHERE id = $1', [
    sidOf(lru.access_token),
  ]);
  assert.equal(row!.end_reason, 'session_limit');
  const events = await b.services.db.query<{
    outcome: string;
    user_id: string;
    session_id: string;
    ip: string;
    detail: Record<string, unknown>;
  }>(
    `SELECT e.outcome, e.user_id, e.session_id, e.ip, e.detail FROM security_events e
       JOIN users u ON u.id = e.user_id WHERE e.type = 'session_evicted' AND u.email = $1`,
    [email],
  );
  assert.equal(events.length, 1, 'one event for the one ended session');
  assert.equal(events[0]!.session_id, sidOf(lru.access_token));
  assert.equal(events[0]!.outcome, 'success');
  assert.equal(events[0]!.ip, '127.0.0.1');
  assert.equal(events[0]!.detail.limit, LIMIT);
  assert.equal(events[0]!.detail.by_session, sidOf(newest.access_token));
  assert.equal(events[0]!.detail.client_id, 'tessera');
});

test('parallel logins never leave more than MAX_SESSIONS_PER_USER sessions', async () => {
  const b = built();
  const email = await newUser(b);
  const burst = await Promise.all(Array.from({ length: 20 }, () => login(b, email)));
  assert.equal(new Set(burst.map((t) => sidOf(t.access_token))).size, 20, 'every login opened its own session');

  const live = await liveSessions(b, email);
  assert.equal(live.length, LIMIT, `exactly ${LIMIT} live sessions, got ${live.length}`);
  const [{ n } = { n: 0 }] = await b.services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM security_events e JOIN users u ON u.id = e.user_id
      WHERE e.type = 'session_evicted' AND u.email = $1`,
    [email],
  );
  assert.equal(n, 20 - LIMIT, 'each ended session audited once');

  // What a client holds agrees: exactly the live sessions' refresh tokens still work.
  const answers = await Promise.all(burst.map((t) => refresh(b.app, t.refresh_token)));
  const working = burst.filter((_, i) => answers[i]!.statusCode === 200).map((t) => sidOf(t.access_token));
  assert.deepEqual(working.sort(), live);
  for (const answer of answers) if (answer.statusCode !== 200) assertError(answer, 400, 'invalid_grant');

  // The password hash spaces HTTP logins out; straight at the use case, 20 transactions overlap.
  const [user] = await b.services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [email]);
  await Promise.all(
    Array.from({ length: 20 }, () =>
      b.services.db.transaction((tx) =>
        openSession(
          tx,
          {
            userId: user!.id,
            clientId: 'tessera',
            scope: 'openid',
            audience: b.config.defaultAudience,
            jti: randomUUID(),
            ttlSeconds: 600,
            userAgent: null,
            ip: null,
          },
          LIMIT,
        ),
      ),
    ),
  );
  assert.equal((await liveSessions(b, email)).length, LIMIT, 'overlapping transactions leave the limit too');
});
