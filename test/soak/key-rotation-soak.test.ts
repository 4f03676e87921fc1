// Soak test of the signing-key lifecycle as a resource service sees it: Tessera listens
// on 127.0.0.1, users keep logging in and refreshing over HTTP, and a resource service
// (the verifier kit behind its Fastify plugin, discovering the issuer for real) verifies
// every fresh token, re-verifies older ones of every key, and is shown forged ones each
// round, while an admin rotates the access key several times and revokes one key.
//
// Asserted: no valid token is ever refused, except those of the revoked key once the
// revocation can have reached the verifier (and those are then refused, as are tokens an
// attacker signs with that key); no forged token is ever accepted, and each is refused
// with the code its kind calls for; a next key is in the JWKS when rotate answers and a
// revoked one is gone when revoke answers; no key signs before it is published or before
// its activates_at; and the verifier fetches the JWKS a bounded number of times however
// many tokens it checks. Figures go to the test diagnostics.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { build, GOOD_PASSWORD, uniqueEmail, userWithRoles, freePort } from '../helpers/build.js';
import { listAllKeys } from '../../src/db/repositories/signing-keys.js';
import { createVerifier, VerifierError, type Verifier, type VerifierErrorCode } from '@tessera/verifier';
import tesseraAuth, { getAuth } from '@tessera/verifier/fastify';
import { forgeRound, newAttacker, type Forgery, type HeldKey } from './forgeries.js';

/** The resource service's load: one round of verifications every ROUND_MS. */
const ROUND_MS = 100;
/** Hard cap on rounds, whatever happens to the clock. */
const MAX_ROUNDS = 400;
const MINTERS = 3;
const MINT_PAUSE_MS = 60;
/** A test-side observer of the JWKS, to date each key's publication. */
const MONITOR_MS = 50;
/** The verifier kit's unknown-kid cooldown, in seconds. */
const COOLDOWN = 1;
/**
 * After a revocation, the verifier may keep using the key it fetched before, for up to
 * max-age after that fetch ended. A verification that starts later than the revocation
 * answer plus max-age plus this slack (a fetch begun just before the revocation still in
 * flight, event-loop lag) must refuse the key's tokens.
 */
const REVOCATION_SLACK_MS = 750;

interface Scenario {
  jwksMaxAge: number;
  publishAhead: number;
  rotations: number;
  /**
   * 'retired': revoke the key that was signing when the run began (retired by the first
   * rotation, its tokens still in circulation). 'current': start one more rotation and,
   * once its key has been published for more than max-age, revoke the signing key, so
   * the pending key takes over early (the compromise path).
   */
  revoke: 'retired' | 'current';
}

interface ValidToken {
  token: string;
  kid: string;
  sub: string;
  via: 'login' | 'refresh';
}

interface Outcome {
  status: number;
  code: VerifierErrorCode | undefined;
  sub: string | undefined;
  start: number;
  end: number;
}

/** A port free right now (there is a small window before Tessera takes it). */

const kidOf = (token: string) => String(decodeProtectedHeader(token).kid);

async function runSoak(t: TestContext, scenario: Scenario): Promise<void> {
  const { jwksMaxAge, publishAhead } = scenario;
  const maxAgeMs = jwksMaxAge * 1000;
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const built = await build(t, {
    ISSUER: issuer,
    PORT: String(port),
    JWKS_MAX_AGE: String(jwksMaxAge),
    KEY_PUBLISH_AHEAD: String(publishAhead),
    KEY_SYNC_INTERVAL: '1',
  });
  const { app, services } = built;
  await app.listen({ port, host: '127.0.0.1' });
  const admin = await userWithRoles(built, ['admin']);

  const http = async (
    path: string,
    init: { json?: unknown; form?: Record<string, string>; token?: string; method?: string } = {},
  ) => {
    const headers: Record<string, string> = {};
    let body: string | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const res = await fetch(`${issuer}${path}`, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  /** A fresh admin access token: the admin's earlier one may be signed by the revoked key. */
  const adminToken = async () => {
    const res = await http('/auth/login', { json: { email: admin.email, password: GOOD_PASSWORD } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return String(res.body.access_token);
  };

  /** Anything that went wrong outside the verdicts below: failed mints, loops, odd answers. */
  const problems: string[] = [];

  // --- The resource service: the verifier kit behind its Fastify plugin. ---------------
  const codes = new Map<string, VerifierErrorCode>();
  const kit = createVerifier({
    issuer,
    audience: issuer,
    cooldown: COOLDOWN,
    onError: (error) => problems.push(`verifier background error: ${error.message}`),
  });
  const verifierCreatedAt = Date.now();
  // The same verifier, remembering why each token was refused (the plugin answers 401 only).
  const verifier: Verifier = {
    issuer: kit.issuer,
    audience: kit.audience,
    async verify(token) {
      try {
        return await kit.verify(token);
      } catch (error) {
        if (error instanceof VerifierError) codes.set(token, error.code);
        throw error;
      }
    },
    pollRevocations: () => kit.pollRevocations(),
    stats: () => kit.stats(),
    close: () => kit.close(),
  };
  const resource = Fastify({ logger: false });
  await resource.register(tesseraAuth, { verifier, realm: 'soak' });
  resource.get('/orders', { preHandler: resource.authenticate }, async (request) => ({ sub: getAuth(request)!.sub }));
  await resource.ready();
  t.after(async () => {
    await resource.close();
    await kit.close();
  });
  const callResource = async (token: string): Promise<Outcome> => {
    const start = Date.now();
    const res = await resource.inject({ method: 'GET', url: '/orders', headers: { authorization: `Bearer ${token}` } });
    const end = Date.now();
    const code = codes.get(token);
    codes.delete(token);
    return {
      status: res.statusCode,
      code,
      sub: res.statusCode === 200 ? res.json<{ sub: string }>().sub : undefined,
      start,
      end,
    };
  };

  // --- Shared state of the run. ---------------------------------------------------------
  let stopped = false;
  const revocation: { kid?: string; startedAt?: number; doneAt?: number } = {};
  /** The moment from which a verification of the revoked key's tokens must fail. */
  const revocationCutoff = () =>
    revocation.doneAt === undefined ? Number.POSITIVE_INFINITY : revocation.doneAt + maxAgeMs + REVOCATION_SLACK_MS;
  const stats = {
    minted: { login: 0, refresh: 0 },
    valid: { checks: 0, accepted: 0 },
    validRefused: [] as string[],
    acceptedByKid: new Map<string, number>(),
    revokedKey: { acceptedInWindow: 0, refusedInWindow: 0, refusedAfter: 0, acceptedAfter: [] as string[] },
    stolen: { acceptedInWindow: 0, refusedInWindow: 0, refusedAfter: 0 },
    forged: {
      checks: 0,
      refused: 0,
      accepted: [] as string[],
      wrongCode: [] as string[],
      byKind: new Map<string, number>(),
    },
    rounds: 0,
  };

  // --- A test-side JWKS observer: when each kid was first and last published. ----------
  const firstSeen = new Map<string, number>();
  const jwkByKid = new Map<string, JWK>();
  let publishedNow = new Set<string>();
  const pollJwks = async () => {
    const res = await http('/.well-known/jwks.json');
    const seenAt = Date.now();
    const keys = (res.body.keys ?? []) as JWK[];
    publishedNow = new Set(keys.map((k) => String(k.kid)));
    for (const jwk of keys) {
      const kid = String(jwk.kid);
      if (!firstSeen.has(kid)) firstSeen.set(kid, seenAt);
      jwkByKid.set(kid, jwk);
    }
  };
  await pollJwks();
  const initialKids = new Set(firstSeen.keys());
  const monitor = (async () => {
    while (!stopped) {
      await pollJwks().catch((error: unknown) => problems.push(`JWKS observer: ${String(error)}`));
      await sleep(MONITOR_MS);
    }
  })();

  // --- Token sources: real logins and refreshes, over HTTP, all the time. --------------
  const fresh: ValidToken[] = [];
  const byKid = new Map<string, ValidToken[]>();
  let latest: ValidToken | undefined;
  let latestRefresh: string | undefined;
  const record = (token: string, via: ValidToken['via']) => {
    const valid: ValidToken = { token, kid: kidOf(token), sub: String(decodeJwt(token).sub), via };
    stats.minted[via] += 1;
    fresh.push(valid);
    const list = byKid.get(valid.kid) ?? [];
    // A bounded sample per key, re-verified every round for as long as the run lasts.
    if (list.length < 20) list.push(valid);
    else list[Math.floor(Math.random() * list.length)] = valid;
    byKid.set(valid.kid, list);
    latest = valid;
  };
  const minter = async (i: number) => {
    const email = uniqueEmail(`soak${i}`);
    const registered = await http('/users', { json: { email, password: GOOD_PASSWORD } });
    if (registered.status !== 201) throw new Error(`registration failed: ${JSON.stringify(registered.body)}`);
    let refreshToken: string | undefined;
    for (let n = 0; !stopped; n++) {
      const viaLogin = refreshToken === undefined || n % 5 === 0;
      const res = viaLogin
        ? await http('/auth/login', { json: { email, password: GOOD_PASSWORD } })
        : await http('/oauth/token', { form: { grant_type: 'refresh_token', refresh_token: refreshToken! } });
      if (res.status !== 200) {
        problems.push(`${viaLogin ? 'login' : 'refresh'} failed: ${res.status} ${JSON.stringify(res.body)}`);
        refreshToken = undefined;
      } else {
        record(String(res.body.access_token), viaLogin ? 'login' : 'refresh');
        refreshToken = String(res.body.refresh_token);
        latestRefresh = refreshToken;
      }
      await sleep(MINT_PAUSE_MS);
    }
  };

  // --- The resource service under steady load. ------------------------------------------
  const checkValid = async (valid: ValidToken) => {
    const out = await callResource(valid.token);
    stats.valid.checks += 1;
    const accepted = out.status === 200;
    if (accepted && out.sub !== valid.sub) problems.push(`accepted token of ${valid.sub} answered for ${out.sub}`);
    if (out.status !== 200 && out.status !== 401)
      problems.push(`resource answered ${out.status} (${out.code}) for a valid token of ${valid.kid}`);
    if (valid.kid === revocation.kid && revocation.startedAt !== undefined && out.end >= revocation.startedAt) {
      // The revoked key: either answer while the revocation propagates, refused after.
      if (out.start >= revocationCutoff()) {
        if (accepted) stats.revokedKey.acceptedAfter.push(`${out.start - revocation.doneAt!} ms after the revocation`);
        else stats.revokedKey.refusedAfter += 1;
      } else if (accepted) stats.revokedKey.acceptedInWindow += 1;
      else stats.revokedKey.refusedInWindow += 1;
      return;
    }
    if (accepted) {
      stats.valid.accepted += 1;
      stats.acceptedByKid.set(valid.kid, (stats.acceptedByKid.get(valid.kid) ?? 0) + 1);
    } else {
      stats.validRefused.push(
        `${out.code} for a ${valid.via} token of kid ${valid.kid} (published ${firstSeen.has(valid.kid) ? `${out.start - firstSeen.get(valid.kid)!} ms before` : 'never seen'}; in the JWKS now: ${publishedNow.has(valid.kid)})`,
      );
    }
  };
  const checkForged = async (forgery: Forgery) => {
    const out = await callResource(forgery.token);
    stats.forged.checks += 1;
    stats.forged.byKind.set(forgery.kind, (stats.forged.byKind.get(forgery.kind) ?? 0) + 1);
    let kid: string | undefined;
    try {
      kid = String(decodeProtectedHeader(forgery.token).kid);
    } catch {
      kid = undefined;
    }
    if (forgery.kind === 'stolen-revoked-key' && out.start < revocationCutoff()) {
      // Signed with the real (now revoked) key: the verifier cannot tell until it refetches.
      if (out.status === 200) stats.stolen.acceptedInWindow += 1;
      else stats.stolen.refusedInWindow += 1;
      return;
    }
    if (out.status === 200) {
      stats.forged.accepted.push(`${forgery.kind} (kid ${kid})`);
      return;
    }
    if (out.status !== 401) problems.push(`resource answered ${out.status} (${out.code}) for forgery ${forgery.kind}`);
    stats.forged.refused += 1;
    if (forgery.kind === 'stolen-revoked-key') stats.stolen.refusedAfter += 1;
    // A forgery built on a key being revoked this moment may find that key already gone.
    const allowed =
      kid !== undefined && kid === revocation.kid ? [...forgery.expect, 'ERR_UNKNOWN_KID'] : forgery.expect;
    if (out.code === undefined || !allowed.includes(out.code))
      stats.forged.wrongCode.push(`${forgery.kind}: ${out.code} (expected ${allowed.join('|')})`);
  };

  const attacker = await newAttacker();
  let stolen: HeldKey | undefined;
  const forgeNow = async (): Promise<Forgery[]> => {
    const base = latest && latest.kid !== revocation.kid ? latest : undefined;
    const jwk = base && jwkByKid.get(base.kid);
    if (!base || !jwk) return [];
    // Another key the verifier surely holds: published for a while and not being revoked.
    const now = Date.now();
    const otherKid = [...publishedNow].find(
      (kid) => kid !== base.kid && kid !== revocation.kid && now - (firstSeen.get(kid) ?? now) > 2 * maxAgeMs + 500,
    );
    return forgeRound({
      issuer,
      services,
      base: { token: base.token, jwk },
      refreshToken: latestRefresh,
      otherKid,
      attacker,
      ...(stolen && revocation.doneAt !== undefined ? { stolen } : {}),
    });
  };
  const load = async () => {
    while (!stopped && stats.rounds < MAX_ROUNDS) {
      const roundStart = Date.now();
      const batch: Promise<void>[] = [];
      for (const valid of fresh.splice(0)) batch.push(checkValid(valid));
      for (const list of byKid.values()) batch.push(checkValid(list[Math.floor(Math.random() * list.length)]!));
      for (const forgery of await forgeNow()) batch.push(checkForged(forgery));
      await Promise.all(batch);
      stats.rounds += 1;
      await sleep(Math.max(0, ROUND_MS - (Date.now() - roundStart)));
    }
  };

  // --- The run. -----------------------------------------------------------------------------
  const initialKid = services.keystore.signingKey('access').kid;
  // Whoever held the signing key at the start could have stolen it; only revocation stops them.
  const initialKey = services.keystore.signingKey('access');
  const runStartedAt = Date.now();
  const loops = [monitor, load(), ...Array.from({ length: MINTERS }, (_, i) => minter(i))];
  const rotated: string[] = [];
  /** When the JWKS was checked to hold each new kid, right after the rotate call answered. */
  const publishedCheckAt = new Map<string, number>();
  let replacement: string | undefined;

  const rotate = async () => {
    const res = await http('/admin/keys/rotate', { json: {}, token: await adminToken() });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.created, true, 'a new next key each time');
    const kid = String(res.body.kid);
    // "A next key is published now": in the JWKS by the time the call answers.
    const jwks = await http('/.well-known/jwks.json');
    assert.ok(
      (jwks.body.keys as JWK[]).some((k) => k.kid === kid),
      'the next key is published when rotate answers',
    );
    publishedCheckAt.set(kid, Date.now());
    return { kid, activatesAt: Date.parse(String(res.body.activates_at)) };
  };
  /** Waits for a key to sign: past activates_at, a sync, and a token minted with it. */
  const untilSigning = async (kid: string, activatesAt: number) => {
    const deadline = Date.now() + publishAhead * 1000 + 10_000;
    await sleep(Math.max(0, activatesAt - Date.now()) + 20);
    await services.syncKeys();
    while (Date.now() < deadline && !(services.keystore.signingKey('access').kid === kid && byKid.has(kid))) {
      await sleep(50);
      await services.syncKeys();
    }
    assert.equal(services.keystore.signingKey('access').kid, kid, 'the rotated key signs');
    assert.ok(byKid.has(kid), 'tokens signed by the new key were minted');
  };
  const revoke = async (kid: string) => {
    revocation.kid = kid;
    revocation.startedAt = Date.now();
    const res = await http(`/admin/keys/${kid}/revoke`, { method: 'POST', token: await adminToken() });
    revocation.doneAt = Date.now();
    assert.equal(res.status, 200, JSON.stringify(res.body));
    // "A revoked key leaves at once."
    const jwks = await http('/.well-known/jwks.json');
    assert.ok(!(jwks.body.keys as JWK[]).some((k) => k.kid === kid), 'the revoked key is gone from the JWKS at once');
    return res.body;
  };

  try {
    await sleep(600); // warm up: the verifier discovers the issuer and caches the keys
    for (let i = 0; i < scenario.rotations; i++) {
      const { kid, activatesAt } = await rotate();
      await untilSigning(kid, activatesAt);
      rotated.push(kid);
      await sleep(200);
    }
    if (scenario.revoke === 'retired') {
      const [row] = (await listAllKeys(services.db)).filter((k) => k.kid === initialKid);
      assert.equal(row?.state, 'retired');
      stolen = initialKey;
      const body = await revoke(initialKid);
      assert.equal(body.replacement, undefined, 'a retired key needs no replacement');
    } else {
      const pending = await rotate();
      // Published for more than max-age, so every verifier holds it; not yet due.
      await sleep(maxAgeMs + 300);
      assert.ok(Date.now() < pending.activatesAt - 150, 'the pending key is not due yet');
      const current = services.keystore.signingKey('access');
      stolen = current;
      const body = await revoke(current.kid);
      replacement = String(body.replacement);
      assert.equal(replacement, pending.kid, 'the pending, already published key takes over');
      assert.equal(services.keystore.signingKey('access').kid, pending.kid);
      rotated.push(pending.kid);
    }
    await sleep(maxAgeMs + REVOCATION_SLACK_MS + 600); // long enough past the cutoff to see refusals
  } finally {
    stopped = true;
    await Promise.allSettled(loops).then((results) => {
      for (const r of results) if (r.status === 'rejected') problems.push(`loop failed: ${String(r.reason)}`);
    });
  }
  const runMs = Date.now() - runStartedAt;
  const verifierStats = kit.stats();
  const verifierMs = Date.now() - verifierCreatedAt;

  // --- Publication lead: how long each new key was in the JWKS before it could sign. ------
  const keyRows = await listAllKeys(services.db);
  const leads: { kid: string; lead: number; lag: number; early: boolean; activatedAt: number; activatesAt: number }[] =
    [];
  for (const kid of rotated) {
    const row = keyRows.find((k) => k.kid === kid);
    assert.ok(row?.activatedAt, `key ${kid} was activated`);
    assert.ok(firstSeen.has(kid) && !initialKids.has(kid), `key ${kid} was seen being published`);
    // activated_at is the promotion's transaction time, before the key can sign. The key
    // was published before the observer first saw it, and before the check after rotate.
    const publishedBy = Math.min(firstSeen.get(kid)!, publishedCheckAt.get(kid)!);
    leads.push({
      kid,
      lead: row.activatedAt.getTime() - publishedBy,
      // activates_at is counted from created_at (the rotation's transaction), which is
      // before the JWKS served by this instance is rebuilt: the publication lag.
      lag: publishedBy - row.createdAt.getTime(),
      early: kid === replacement,
      activatedAt: row.activatedAt.getTime(),
      activatesAt: row.activatesAt.getTime(),
    });
  }
  const minLead = Math.min(...leads.map((l) => l.lead));

  // --- Report. ----------------------------------------------------------------------------
  // Every JWKS fetch starts at least min(max-age, cooldown) after the previous one began:
  // revalidation waits for max-age after the last answer, an unknown kid (a forgery's, a
  // revoked key's, a new key's) waits for the cooldown after the last attempt of either
  // kind, and failed fetches are retried no sooner than the cooldown. So over the
  // verifier's lifetime T there are at most 1 + T / min(max-age, cooldown) fetches, however
  // many tokens, forgeries and rotations there are; rotations add nothing on top. One
  // more is allowed for clock granularity.
  const fetchBound = 2 + Math.floor(verifierMs / (Math.min(jwksMaxAge, COOLDOWN) * 1000));
  const kinds = [...stats.forged.byKind].map(([kind, n]) => `${kind} ${n}`).join(', ');
  t.diagnostic(
    `settings: JWKS_MAX_AGE=${jwksMaxAge} KEY_PUBLISH_AHEAD=${publishAhead} KEY_SYNC_INTERVAL=1, verifier cooldown ${COOLDOWN} s; ${services.config.database.kind}`,
  );
  t.diagnostic(
    `run ${runMs} ms, ${stats.rounds} rounds; rotations ${scenario.rotations}${scenario.revoke === 'current' ? ' + 1 ended early by revoking the signing key' : ''}; revoked ${scenario.revoke} key ${revocation.kid?.slice(0, 8)}…`,
  );
  t.diagnostic(
    `tokens minted: ${stats.minted.login} by login, ${stats.minted.refresh} by refresh, over ${byKid.size} keys`,
  );
  t.diagnostic(
    `valid verifications: ${stats.valid.checks} (accepted ${stats.valid.accepted}, refused ${stats.validRefused.length}); accepted by key: ${[...stats.acceptedByKid.values()].join(', ')}`,
  );
  const acceptedBeforeRevocation = stats.acceptedByKid.get(revocation.kid!) ?? 0;
  t.diagnostic(
    `revoked key's tokens: accepted before revocation ${acceptedBeforeRevocation}; while it propagated (<= max-age) accepted ${stats.revokedKey.acceptedInWindow}, refused ${stats.revokedKey.refusedInWindow}; after: refused ${stats.revokedKey.refusedAfter}, accepted ${stats.revokedKey.acceptedAfter.length}`,
  );
  t.diagnostic(
    `tokens forged with the stolen key after its revocation: accepted while it propagated ${stats.stolen.acceptedInWindow}, refused then ${stats.stolen.refusedInWindow}, refused after ${stats.stolen.refusedAfter}`,
  );
  t.diagnostic(
    `forged: ${stats.forged.checks} presented, ${stats.forged.refused} refused, ${stats.forged.accepted.length} accepted, ${stats.forged.wrongCode.length} refused with an unexpected code; ${kinds}`,
  );
  t.diagnostic(
    `publication lead (published -> activated) per new key: ${leads.map((l) => `${l.kid.slice(0, 8)}…${l.early ? ' (early, by revocation)' : ''} ${l.lead} ms (published <= ${l.lag} ms after created_at)`).join('; ')}`,
  );
  if (minLead < maxAgeMs)
    t.diagnostic(
      `note: a key signed ${maxAgeMs - minLead} ms less than max-age after it was published (publication lag; see the lead figures)`,
    );
  t.diagnostic(
    `JWKS fetches by the verifier: ${verifierStats.jwksFetches} (${verifierStats.jwksNotModified} answered 304, ${verifierStats.jwksFailures} failed), discovery ${verifierStats.discoveryFetches}; bound ${fetchBound} over ${verifierMs} ms; verifier totals: ${verifierStats.verified} verified, ${verifierStats.rejected} rejected`,
  );

  // --- Verdict. ---------------------------------------------------------------------------
  assert.deepEqual(problems, [], 'no failed logins, refreshes, loops or unexpected answers');
  assert.deepEqual(stats.validRefused, [], "no valid token refused (other than the revoked key's)");
  assert.deepEqual(stats.forged.accepted, [], 'no forged token accepted');
  assert.deepEqual(stats.forged.wrongCode, [], 'every forgery refused for the reason it was built to test');
  assert.deepEqual(stats.revokedKey.acceptedAfter, [], 'the revoked key stops verifying within max-age');
  assert.ok(acceptedBeforeRevocation > 0, 'the revoked key had verified tokens before');
  assert.ok(stats.revokedKey.refusedAfter > 0, 'its tokens were presented, and refused, after the revocation');
  assert.ok(stats.stolen.refusedAfter > 0, 'tokens forged with the stolen key were refused after the revocation');
  for (const kid of rotated)
    assert.ok((stats.acceptedByKid.get(kid) ?? 0) > 0, `tokens of the new key ${kid} verified`);
  assert.ok(stats.valid.accepted > 100 && stats.forged.checks > 300, 'the load was real');
  // Publish-ahead: no key signs before it is published, none is promoted before its
  // activates_at except by a revocation, and when KEY_PUBLISH_AHEAD leaves room beyond
  // max-age, every key was published a full max-age before it signed. (With the two
  // equal, the lead is max-age minus the publication lag, which the diagnostic shows.)
  for (const l of leads) {
    assert.ok(l.lead > 0, `key ${l.kid} published before it signed`);
    if (!l.early) assert.ok(l.activatedAt >= l.activatesAt, `key ${l.kid} not promoted before activates_at`);
  }
  if (publishAhead > jwksMaxAge)
    assert.ok(minLead >= maxAgeMs, `every new key was published max-age before it signed (min lead ${minLead} ms)`);
  assert.equal(verifierStats.discoveryFetches, 1);
  assert.equal(verifierStats.jwksFailures, 0);
  assert.ok(
    verifierStats.jwksFetches <= fetchBound,
    `JWKS fetched ${verifierStats.jwksFetches} times, bound ${fetchBound}`,
  );
  assert.ok(verifierStats.jwksFetches >= scenario.rotations, 'the verifier did refetch as keys changed');
}

test(
  'soak: KEY_PUBLISH_AHEAD = JWKS_MAX_AGE, three rotations, a retired key revoked',
  { timeout: 90_000 },
  async (t) => {
    await runSoak(t, { jwksMaxAge: 1, publishAhead: 1, rotations: 3, revoke: 'retired' });
  },
);

// The compromise path. KEY_PUBLISH_AHEAD is two max-ages here so that the pending key can
// have been published for more than max-age and still not be due when the signing key is
// revoked; one ordinary rotation first, so a retired key is in play too.
test(
  'soak: a rotation, then the signing key revoked mid-rotation (the pending key takes over)',
  { timeout: 90_000 },
  async (t) => {
    await runSoak(t, { jwksMaxAge: 1, publishAhead: 2, rotations: 1, revoke: 'current' });
  },
);
