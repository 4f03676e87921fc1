// The conformance pack (conformance/cases.json) against both users of the verifier
// core, time frozen at the pack's `now`: the package's verifier with the pack's JWKS
// served from a real local HTTP server, and Tessera's own TokenService with the pack's
// public keys in a real Keystore on a real database.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVerifier, VerifierError } from '@tessera/verifier';
import { generateConformancePack, serializePack, type ConformancePack } from '../../scripts/generate-conformance.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { Database } from '../../src/db/database.js';
import { Keystore } from '../../src/keys/keystore.js';
import { TokenInvalidError, TokenService } from '../../src/tokens/token-service.js';
import { testConfig } from '../helpers/build.js';

const REQUIRED = [
  'valid-es256',
  'alg-none',
  'alg-confusion-hs256-public-pem',
  'header-jwk-attacker-key',
  'header-jku',
  'header-x5u',
  'tampered-payload',
  'stripped-signature',
  'expired',
  'not-yet-valid',
  'issued-in-future',
  'wrong-iss',
  'wrong-aud',
  'refresh-token',
  'unknown-kid',
  'missing-exp',
  'missing-typ',
  'oversized',
  'alg-mismatch-ps256-on-rs256-key',
  'alg-mismatch-es384-on-p256-key',
];

type Result = { name: string; expect: string; got: string; code: string | undefined; wanted: string | undefined };

/** Each case through verify, which resolves for a valid token and throws with the refusal's code otherwise. */
async function judge(
  pack: ConformancePack,
  verify: (token: string) => Promise<unknown>,
  codeOf: (error: unknown) => string,
): Promise<Result[]> {
  const results: Result[] = [];
  for (const c of pack.cases) {
    try {
      await verify(c.token);
      results.push({ name: c.name, expect: c.expect, got: 'valid', code: undefined, wanted: c.code });
    } catch (error) {
      results.push({ name: c.name, expect: c.expect, got: 'invalid', code: codeOf(error), wanted: c.code });
    }
  }
  return results;
}

const wrongOnes = (results: Result[]) => results.filter((r) => r.got !== r.expect || r.code !== r.wanted);

async function runPack(pack: ConformancePack) {
  let jwksRequests = 0;
  const server = createServer((_req, res) => {
    jwksRequests += 1;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify(pack.jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const verifier = createVerifier({
    issuer: pack.issuer,
    audience: pack.audience,
    jwksUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    currentDate: new Date(pack.now * 1000),
  });
  try {
    const results = await judge(
      pack,
      (token) => verifier.verify(token),
      (error) => {
        assert.ok(error instanceof VerifierError, `threw ${String(error)}`);
        return error.code;
      },
    );
    return { results, jwksRequests };
  } finally {
    await verifier.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

let fresh: Promise<ConformancePack> | undefined;
/** One freshly generated pack for the file: generating one (3072-bit RSA keys) takes seconds. */
const freshPack = () => (fresh ??= generateConformancePack());

let database: Promise<Database> | undefined;

/** This file's database, migrated; closed after the test that first asks. */
function testDatabase(t: TestContext): Promise<Database> {
  database ??= (async () => {
    const db = await Database.connect((await testConfig()).database);
    await db.migrate();
    return db;
  })();
  const opened = database;
  t.after(async () => {
    if (database !== opened) return;
    database = undefined;
    await (await opened).close();
  });
  return opened;
}

/**
 * The pack through TokenService.verifyAccessToken, the server's own check. The pack's
 * public keys go in as retired access keys: trusted for verification, and never opened
 * for signing, so no private half is needed.
 */
async function runPackOnServer(t: TestContext, pack: ConformancePack): Promise<Result[]> {
  const db = await testDatabase(t);
  for (const jwk of pack.jwks.keys) {
    await db.query(
      `INSERT INTO signing_keys (kid, purpose, alg, state, public_jwk, private_key_enc, retired_at)
       VALUES ($1, 'access', $2, 'retired', $3::jsonb, 'never-opened', now()) ON CONFLICT (kid) DO NOTHING`,
      [jwk.kid, jwk.alg, JSON.stringify(jwk)],
    );
  }
  const keystore = new Keystore(db, SecretBox.fromKey(randomBytes(32)));
  await keystore.reload(new Date(pack.now * 1000));
  const tokens = new TokenService(keystore, { issuer: pack.issuer, accessTokenTtl: 600 });
  return judge(
    pack,
    (token) => tokens.verifyAccessToken(token, [pack.audience], pack.now * 1000),
    (error) => {
      assert.ok(error instanceof TokenInvalidError, `threw ${String(error)}`);
      return error.code;
    },
  );
}

test('the committed pack covers the required cases and holds public keys only', () => {
  const pack = JSON.parse(
    readFileSync(new URL('../../conformance/cases.json', import.meta.url), 'utf8'),
  ) as ConformancePack;
  const names = new Set(pack.cases.map((c) => c.name));
  for (const name of REQUIRED) assert.ok(names.has(name), `missing case ${name}`);
  assert.equal(names.size, pack.cases.length, 'case names are unique');
  for (const key of pack.jwks.keys) {
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
      assert.equal(member in key, false, `public JWKS carries ${member}`);
  }
  assert.ok(pack.cases.find((c) => c.name === 'oversized')!.token.length > pack.max_token_length);
});

test('every case of the committed pack gets its expected outcome', async () => {
  const pack = JSON.parse(
    readFileSync(new URL('../../conformance/cases.json', import.meta.url), 'utf8'),
  ) as ConformancePack;
  const { results, jwksRequests } = await runPack(pack);
  assert.deepEqual(wrongOnes(results), [], 'cases with an unexpected outcome or code');
  assert.ok(results.filter((r) => r.got === 'valid').length >= 5);
  // One fetch at first use; unknown-kid refetches stay within the 30 s cooldown.
  assert.equal(jwksRequests, 1);
});

test('a freshly generated pack passes too, and serializes deterministically', async () => {
  const pack = await freshPack();
  const { results } = await runPack(pack);
  assert.deepEqual(wrongOnes(results), []);
  assert.equal(serializePack(pack), serializePack(JSON.parse(serializePack(pack)) as ConformancePack));
  const again = await generateConformancePack();
  assert.deepEqual(
    again.cases.map((c) => [c.name, c.expect, c.reason, c.code]),
    pack.cases.map((c) => [c.name, c.expect, c.reason, c.code]),
  );
});

test('the server judges every case of the pack as the package does: the same core, its keystore as key source', async (t) => {
  const committed = JSON.parse(
    readFileSync(new URL('../../conformance/cases.json', import.meta.url), 'utf8'),
  ) as ConformancePack;
  const results = await runPackOnServer(t, committed);
  assert.deepEqual(wrongOnes(results), [], 'cases with an unexpected outcome or code');
  assert.ok(results.filter((r) => r.got === 'valid').length >= 5);
  assert.deepEqual(wrongOnes(await runPackOnServer(t, await freshPack())), [], 'a freshly generated pack');
});
