// Property-based fuzzing of every operation in openapi.yaml: generated paths, query
// strings, headers, credentials (garbage, forged JWTs, real tokens) and bodies, sent in
// process. Every answer must be below 500, documented for the operation, free of
// internals, shaped {error, error_description} when it refuses, granted only to callers
// with the right credentials, and a refused request must leave the stored state as it was.
//
// CI runs a bounded count with a fixed seed; `npm run fuzz` runs a long one. Settings:
//   FUZZ_SEED   seed (default 42); each operation uses FUZZ_SEED + its index
//   FUZZ_RUNS   total generated requests, shared evenly by the operations (default 480)
//   FUZZ_ONLY   only operations whose "METHOD /path" contains this text
//   FUZZ_SHRINK set to 1 to let fast-check shrink a failure (replays requests on live state)
//   FUZZ_KEEP_GOING set to 1 to collect every kind of failure and report them all at the end
//   FUZZ_VERBOSE set to 1 to print the statuses each operation answered
//   FUZZ_TRACE   set to 1 to print every exchange on stderr
//   FUZZ_OPENAPI another OpenAPI document to read the operations from (default: the committed openapi.yaml)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { build } from '../helpers/build.js';
import { WITHOUT_LIMITS } from '../routes/suite-app.js';
import { loadOperations, type Operation } from './openapi-ops.js';
import { requestArb, type RequestCase } from './arbitraries.js';
import { Harness, type Snapshot } from './harness.js';

const SEED = Number(process.env.FUZZ_SEED ?? 42);
const RUNS = Number(process.env.FUZZ_RUNS ?? 480);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('FUZZ_RUNS must be a positive whole number');
if (!Number.isInteger(SEED)) throw new Error('FUZZ_SEED must be a whole number');
const ONLY = process.env.FUZZ_ONLY;
const SHRINK = process.env.FUZZ_SHRINK === '1';
const KEEP_GOING = process.env.FUZZ_KEEP_GOING === '1';

const FUZZ_ENV = {
  // Rate limits and captcha out of the way (the defence tests cover them); every other defence stays on.
  ...WITHOUT_LIMITS,
  // Requests go one at a time, so the bounded hasher is never full: a 503 would be a finding.
  HASH_QUEUE: '10000',
  // No key becomes current on its own during a run: key state changes only through requests.
  KEY_PUBLISH_AHEAD: '604800',
  AUDIENCES: 'https://api.example.com',
};

function describeCase(c: RequestCase): string {
  const path = Object.entries(c.path).reduce(
    (p, [name, v]) => p.replace(`{${name}}`, `${v.raw ? '' : 'enc:'}${JSON.stringify(String(v.value)).slice(0, 80)}`),
    c.op.path,
  );
  const query = c.query.map(([n, v, raw]) => `${n}=${raw ? '' : 'enc:'}${String(v).slice(0, 60)}`).join('&');
  const body =
    c.body.kind === 'tree'
      ? `${c.body.rewrite ? `${c.body.rewrite.label}(` : ''}${JSON.stringify(c.body.tree).slice(0, 300)}${c.body.rewrite ? ')' : ''}`
      : c.body.kind === 'pairs'
        ? c.body.pairs.map(([n, v, raw]) => `${n}=${raw ? '' : 'enc:'}${String(v).slice(0, 60)}`).join('&')
        : c.body.kind === 'text'
          ? JSON.stringify(c.body.text.slice(0, 300))
          : c.body.kind === 'bytes'
            ? `bytes[${c.body.bytes.length}]`
            : 'none';
  const cred =
    c.credential.kind === 'none' ? 'none' : `${c.credential.kind}:${String(c.credential.header).slice(0, 120)}`;
  return `${c.method} ${path}${query ? `?${query}` : ''} | auth ${cred} | content-type ${JSON.stringify(c.body.contentType)} | body ${body} | headers ${Object.keys(c.headers).join(',')}`;
}

test('fuzzing every documented operation', { timeout: 6 * 60 * 60 * 1000 }, async (t) => {
  const started = Date.now();
  const operations = process.env.FUZZ_OPENAPI
    ? loadOperations(pathToFileURL(process.env.FUZZ_OPENAPI))
    : loadOperations();
  const selected = operations.filter((op) => !ONLY || op.id.includes(ONLY));
  const perOperation = Math.max(1, Math.round(RUNS / selected.length));
  const built = await build(t, FUZZ_ENV);
  const harness = await Harness.create(built, operations);
  harness.keepGoing = KEEP_GOING;
  await t.test('the oracle refuses what it must (no vacuous fuzzing)', () => oracleSelfTest(harness, operations));
  try {
    for (const [index, op] of operations.entries()) {
      if (!selected.includes(op)) continue;
      await t.test(op.id, async () => {
        const arbitrary = requestArb(op).map((c) => Object.assign(c, { [fc.toStringMethod]: () => describeCase(c) }));
        await fc.assert(
          fc.asyncProperty(arbitrary, (c) => harness.run(c)),
          { seed: SEED + index, numRuns: perOperation, endOnFailure: !SHRINK, includeErrorInReport: true },
        );
      });
    }
  } finally {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const statuses = [...harness.statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}:${n}`)
      .join(' ');
    t.diagnostic(
      `fuzz: ${harness.requests} requests over ${selected.length} operations (${perOperation} each), seed ${SEED}, ${seconds}s`,
    );
    t.diagnostic(
      `fuzz statuses: ${statuses}; ${harness.stateChanges} requests changed the stored state (${harness.reuseEndings} of them refused refresh-token reuses ending a session)`,
    );
    for (const [kind, { count, example }] of harness.failures) t.diagnostic(`FAILURE x${count}: ${kind}\n${example}`);
    if (process.env.FUZZ_VERBOSE === '1') {
      for (const [op, per] of harness.perOperation)
        t.diagnostic(
          `  ${op}: ${[...per.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([s, n]) => `${s}:${n}`)
            .join(' ')}`,
        );
    }
  }
  if (harness.failures.size > 0)
    throw new Error(`${harness.failures.size} kinds of failure (see the diagnostics above)`);
});

/** Synthetic answers each property must reject, and one it must accept. */
function oracleSelfTest(harness: Harness, operations: Operation[]): void {
  const op = (id: string) => operations.find((o) => o.id === id)!;
  const request = (id: string, credential: RequestCase['credential'] = { kind: 'none' }): RequestCase => ({
    op: op(id),
    method: op(id).method,
    path: {},
    query: [],
    headers: { 'x-request-id': 'echo-marker-1234567' },
    credential,
    remoteAddress: '127.0.0.1',
    body: { kind: 'none', contentType: undefined },
  });
  const answer = (status: number, body: string, headers: Record<string, string> = {}) =>
    ({
      statusCode: status,
      body,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'",
        ...headers,
      },
      json: () => JSON.parse(body) as unknown,
    }) as unknown as LightMyRequestResponse;
  const same: Snapshot = { key: '', sums: { users_rows: 1, users_sum: 'a' }, exempt: {} };
  const changed: Snapshot = { key: '', sums: { users_rows: 2, users_sum: 'b' }, exempt: {} };
  const refusal = '{"error":"invalid_token","error_description":"The access token is invalid"}';
  const verdict =
    (c: RequestCase, res: LightMyRequestResponse, after = same) =>
    () =>
      harness.check(c, harness.build(c), res, same, after);
  const me = request('GET /users/me');
  assert.doesNotThrow(verdict(me, answer(401, refusal)));
  assert.throws(
    verdict(me, answer(500, '{"error":"server_error","error_description":"Internal server error"}')),
    /never a 5xx/,
  );
  assert.throws(verdict(me, answer(418, refusal)), /not documented/);
  assert.throws(
    verdict(
      me,
      answer(401, '{"error":"invalid_token","error_description":"x","stack":"at f (/work/main/src/a.ts:1:2)"}'),
    ),
    /internals/,
  );
  assert.throws(
    verdict(
      me,
      answer(401, '{"error":"invalid_token","error_description":"The access token is invalid","detail":"x"}'),
    ),
    /body /,
  );
  assert.throws(
    verdict(me, answer(401, '{"error":"invalid_token","error_description":"relation \\"users\\" does not exist"}')),
    /internals/,
  );
  assert.throws(
    verdict(me, answer(401, '{"error":"invalid_token","error_description":"bad echo-marker-1234567"}')),
    /echoes input/,
  );
  assert.throws(verdict(me, answer(401, '{"error":"no_such_code","error_description":"Not allowed"}')), /one of ours/);
  assert.throws(verdict(me, answer(401, refusal, { 'cache-control': 'public' })), /no-store|cache/i);
  assert.throws(verdict(me, answer(401, refusal), changed), /changed the stored state/);
  assert.throws(verdict(me, answer(200, '{"status":"node_modules/x/lib/x.js:12"}')), /internals/);
  assert.throws(verdict(me, answer(200, '{"status":"TypeError: Cannot read properties of undefined"}')), /internals/);
  assert.throws(
    verdict(me, answer(401, '{"error":"invalid_token","error_description":"fastify says no"}')),
    /internals|library/,
  );
  assert.throws(verdict(me, answer(200, '{"status":"argon2 is busy"}')), /library name/);
  assert.throws(
    verdict(request('GET /admin/keys', { kind: 'invalid', header: 'Bearer forged' }), answer(200, '{"keys":[]}')),
    /answered 200/,
  );
  assert.throws(
    verdict(
      request('GET /admin/keys', { kind: 'actor', actor: 'user', header: `Bearer ${harness.live.actors.user.access}` }),
      answer(200, '{"keys":[]}'),
    ),
    /answered 200 to user/,
  );
  assert.throws(
    verdict(request('GET /oauth/revoked', { kind: 'invalid', header: 'Basic eDp5' }), answer(200, '{}')),
    /introspecting client/,
  );
}
