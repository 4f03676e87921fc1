// The conformance pack (conformance/cases.json) against our own verifier: the pack's
// JWKS served from a real local HTTP server, time frozen at the pack's `now`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVerifier, VerifierError } from '../../src/verifier/index.js';
import { generateConformancePack, serializePack, type ConformancePack } from '../../scripts/generate-conformance.js';

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
  const results: { name: string; expect: string; got: string; code: string | undefined; wanted: string | undefined }[] = [];
  try {
    for (const c of pack.cases) {
      try {
        await verifier.verify(c.token);
        results.push({ name: c.name, expect: c.expect, got: 'valid', code: undefined, wanted: c.code });
      } catch (error) {
        assert.ok(error instanceof VerifierError, `${c.name}: threw ${String(error)}`);
        results.push({ name: c.name, expect: c.expect, got: 'invalid', code: error.code, wanted: c.code });
      }
    }
  } finally {
    await verifier.close();
    await new Promise((resolve) => server.close(resolve));
  }
  return { results, jwksRequests };
}

test('the committed pack covers the required cases and holds public keys only', () => {
  const pack = JSON.parse(readFileSync(new URL('../../conformance/cases.json', import.meta.url), 'utf8')) as ConformancePack;
  const names = new Set(pack.cases.map((c) => c.name));
  for (const name of REQUIRED) assert.ok(names.has(name), `missing case ${name}`);
  assert.equal(names.size, pack.cases.length, 'case names are unique');
  for (const key of pack.jwks.keys) {
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(member in key, false, `public JWKS carries ${member}`);
  }
  assert.ok(pack.cases.find((c) => c.name === 'oversized')!.token.length > pack.max_token_length);
});

test('every case of the committed pack gets its expected outcome', async () => {
  const pack = JSON.parse(readFileSync(new URL('../../conformance/cases.json', import.meta.url), 'utf8')) as ConformancePack;
  const { results, jwksRequests } = await runPack(pack);
  const wrong = results.filter((r) => r.got !== r.expect || r.code !== r.wanted);
  assert.deepEqual(wrong, [], 'cases with an unexpected outcome or code');
  assert.ok(results.filter((r) => r.got === 'valid').length >= 5);
  // One fetch at first use; unknown-kid refetches stay within the 30 s cooldown.
  assert.equal(jwksRequests, 1);
});

test('a freshly generated pack passes too, and serializes deterministically', async () => {
  const pack = await generateConformancePack();
  const { results } = await runPack(pack);
  assert.deepEqual(results.filter((r) => r.got !== r.expect || r.code !== r.wanted), []);
  assert.equal(serializePack(pack), serializePack(JSON.parse(serializePack(pack)) as ConformancePack));
  const again = await generateConformancePack();
  assert.deepEqual(
    again.cases.map((c) => [c.name, c.expect, c.reason, c.code]),
    pack.cases.map((c) => [c.name, c.expect, c.reason, c.code]),
  );
});
