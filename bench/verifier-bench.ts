// The verifier kit (src/verifier.ts, i.e. @tessera/verifier as the README documents it:
// createVerifier({ issuer, audience }) with keys from the issuer's JWKS) against raw jose
// jwtVerify with the local public key, in one process, on the same tokens: ES256 access
// tokens (typ at+jwt) as Tessera issues them. The JWKS is served by a fetch stub, fetched
// once before timing; after that the kit answers from its cache, as in a resource service.
//
// Both sides check what jose can check here (signature, alg, typ, iss, aud, exp); the kit
// adds its own (size, refused headers, kid, claim types). Before timing, every token must
// verify on both and a tampered, an expired and a wrong-audience token must be refused by
// both, else the run fails. Then alternating rounds, IN_FLIGHT verifies in flight at a time.
//
// As a module: measureVerifier({ cores }) runs this file under `taskset -c <cores>`.
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { createVerifier } from '../src/verifier.js';
import { startPinnedChild } from './pinned-child.js';
import { percentile } from './stats.js';

const TOKENS = 1000;
const IN_FLIGHT = 8;
const ROUNDS = 6;
const ROUND_MS = 500;
const ISSUER = 'https://issuer.bench.invalid';
const AUDIENCE = 'https://api.bench.invalid';
const KID = 'bench-key-1';

export interface VerifyFigures {
  opsPerSec: number;
  /** One verify, ms. */
  p50: number;
  p99: number;
  ops: number;
  failures: number;
}

export interface VerifierResult {
  tokens: number;
  inFlight: number;
  kit: VerifyFigures;
  raw: VerifyFigures;
  pid: number;
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO_ROOT = join(dirname(SCRIPT), '..');

export async function measureVerifier(options: { cores: string }): Promise<VerifierResult> {
  const child = await startPinnedChild<VerifierResult>({
    label: 'verifier bench',
    cores: options.cores,
    script: SCRIPT,
    args: [],
    cwd: REPO_ROOT,
  });
  await child.close();
  return child.info;
}

function sign(key: CryptoKey, claims: { aud?: string; exp?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: 'openid api', client_id: 'tessera', sid: randomUUID(), roles: ['user'] })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: KID })
    .setIssuer(ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setSubject(randomUUID())
    .setJti(randomUUID())
    .setIssuedAt(now - 10)
    .setExpirationTime(claims.exp ?? now + 600)
    .sign(key);
}

async function refused(verify: (token: string) => Promise<unknown>, token: string): Promise<boolean> {
  try {
    await verify(token);
    return false;
  } catch {
    return true;
  }
}

async function run(): Promise<VerifierResult> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: KID, alg: 'ES256', use: 'sig' }] };
  let jwksFetches = 0;
  const kit = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: `${ISSUER}/.well-known/jwks.json`,
    fetch: async () => {
      jwksFetches++;
      return new Response(JSON.stringify(jwks), {
        headers: { 'content-type': 'application/json', 'cache-control': 'max-age=600' },
      });
    },
  });
  const raw = (token: string) =>
    jwtVerify(token, publicKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], typ: 'at+jwt' });
  const sides = { kit: (token: string) => kit.verify(token), raw };

  const tokens = await Promise.all(Array.from({ length: TOKENS }, () => sign(privateKey)));
  const first = tokens[0]!;
  const tampered = `${first.slice(0, -4)}${first.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
  const bad = [tampered, await sign(privateKey, { exp: Math.floor(Date.now() / 1000) - 60 })];
  bad.push(await sign(privateKey, { aud: 'https://other.bench.invalid' }));
  for (const [name, verify] of Object.entries(sides)) {
    for (const token of tokens) await verify(token);
    for (const token of bad) {
      if (!(await refused(verify, token))) throw new Error(`${name} accepted a token it must refuse`);
    }
  }
  if (jwksFetches !== 1) throw new Error(`the kit fetched the JWKS ${jwksFetches} times, expected once`);

  const latencies = { kit: [] as number[], raw: [] as number[] };
  const failures = { kit: 0, raw: 0 };
  const busy = { kit: 0, raw: 0 };
  const round = async (name: 'kit' | 'raw', record: boolean) => {
    const verify = sides[name];
    const until = performance.now() + ROUND_MS;
    let next = 0;
    const start = performance.now();
    const lane = async () => {
      while (performance.now() < until) {
        const token = tokens[next++ % tokens.length]!;
        const t = performance.now();
        try {
          await verify(token);
          if (record) latencies[name].push(performance.now() - t);
        } catch {
          if (record) failures[name]++;
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    if (record) busy[name] += performance.now() - start;
  };
  await round('kit', false);
  await round('raw', false);
  // Alternating, each side first in every other pair: drift on a noisy machine hits both.
  for (let i = 0; i < ROUNDS; i++) {
    const order: Array<'kit' | 'raw'> = i % 2 ? ['raw', 'kit'] : ['kit', 'raw'];
    for (const name of order) await round(name, true);
  }
  await kit.close();
  const figures = (name: 'kit' | 'raw'): VerifyFigures => {
    const sorted = latencies[name].sort((a, b) => a - b);
    const ms = (x: number) => Math.round(x * 1000) / 1000;
    return {
      opsPerSec: Math.round(sorted.length / (busy[name] / 1000)),
      p50: ms(percentile(sorted, 50)),
      p99: ms(percentile(sorted, 99)),
      ops: sorted.length,
      failures: failures[name],
    };
  };
  return { tokens: TOKENS, inFlight: IN_FLIGHT, kit: figures('kit'), raw: figures('raw'), pid: process.pid };
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  run().then(
    (result) => {
      const exit = () => process.exit(0);
      process.on('SIGTERM', exit);
      process.on('disconnect', exit);
      process.stdout.write(`${JSON.stringify(result)}\n`);
      if (!process.connected) exit();
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
