// npm run bench:peer-smoke: checks the oidc-provider benchmark peer works as the bench needs.
// In memory (in this process), then on PostgreSQL (a pinned child under taskset) when
// 127.0.0.1:5432 answers (PEER_DATABASE_URL overrides the administrative URL): JWKS, a
// client_credentials JWT access token (typ at+jwt, verified), a refresh token rotated twice,
// the replayed one refused (and its grant revoked), and a 2 s autocannon run on JWKS.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import pg from 'pg';
import { CC_CLIENT_ID, RT_CLIENT_ID, startOidcProvider, type OidcProviderPeer } from './oidc-provider.js';

const ADMIN_URL = process.env.PEER_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`smoke check failed: ${message}`);
}

function basic(peer: OidcProviderPeer, clientId: string): string {
  const client = peer.clients.find((c) => c.client_id === clientId);
  check(client, `client ${clientId}`);
  return `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
}

async function token(peer: OidcProviderPeer, clientId: string, form: Record<string, string>) {
  const res = await fetch(peer.tokenUrl, {
    method: 'POST',
    headers: { authorization: basic(peer, clientId), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
}

async function exercise(label: string, peer: OidcProviderPeer): Promise<void> {
  console.log(`[${label}] listening at ${peer.url} (pid ${peer.pid}, database ${peer.database ?? 'in memory'})`);

  const jwksRes = await fetch(peer.jwksUrl);
  check(jwksRes.status === 200, `JWKS status ${jwksRes.status}`);
  const jwks = (await jwksRes.json()) as JSONWebKeySet;
  check(jwks.keys.length === 1 && jwks.keys[0]!.alg === 'ES256', 'one ES256 key');
  check(!('d' in jwks.keys[0]!), 'no private part in the JWKS');
  console.log(`[${label}] JWKS: 1 key, ${jwks.keys[0]!.alg}, kid ${jwks.keys[0]!.kid}`);
  const keys = createLocalJWKSet(jwks);

  const cc = await token(peer, CC_CLIENT_ID, { grant_type: 'client_credentials' });
  check(cc.status === 200, `client_credentials status ${cc.status} ${JSON.stringify(cc.body)}`);
  const header = decodeProtectedHeader(cc.body.access_token!);
  check(header.typ === 'at+jwt' && header.alg === 'ES256', `header ${JSON.stringify(header)}`);
  const verified = await jwtVerify(cc.body.access_token!, keys, {
    issuer: peer.url,
    audience: peer.resource,
    typ: 'at+jwt',
  });
  console.log(
    `[${label}] client_credentials: 200, JWT ${JSON.stringify(header)}, sub ${verified.payload.sub}, aud ${String(verified.payload.aud)}, expires_in ${cc.body.expires_in}`,
  );

  const [first] = await peer.mintRefreshTokens(1);
  check(first, 'minted a refresh token');
  const chain = [first];
  for (let i = 0; i < 2; i++) {
    const rt = await token(peer, RT_CLIENT_ID, { grant_type: 'refresh_token', refresh_token: chain.at(-1)! });
    check(rt.status === 200, `refresh status ${rt.status} ${JSON.stringify(rt.body)}`);
    check(rt.body.refresh_token && rt.body.refresh_token !== chain.at(-1), 'rotated');
    const at = await jwtVerify(rt.body.access_token!, keys, {
      issuer: peer.url,
      audience: peer.resource,
      typ: 'at+jwt',
    });
    chain.push(rt.body.refresh_token);
    console.log(
      `[${label}] refresh ${i + 1}: 200, new refresh token (rotated), JWT access token sub ${at.payload.sub} scope ${String(at.payload.scope)}`,
    );
  }
  const replay = await token(peer, RT_CLIENT_ID, { grant_type: 'refresh_token', refresh_token: chain[1]! });
  check(replay.status === 400 && replay.body.error === 'invalid_grant', `replay ${replay.status}`);
  const after = await token(peer, RT_CLIENT_ID, { grant_type: 'refresh_token', refresh_token: chain[2]! });
  check(after.status === 400 && after.body.error === 'invalid_grant', `newest after replay ${after.status}`);
  console.log(`[${label}] replayed rotated token: 400 invalid_grant; newest of that grant then: 400 (grant revoked)`);

  const start = performance.now();
  const tokens = await peer.mintRefreshTokens(200);
  check(new Set(tokens).size === 200, '200 distinct refresh tokens');
  console.log(`[${label}] minted 200 refresh tokens in ${(performance.now() - start).toFixed(0)} ms`);

  const run = await autocannon({ url: peer.jwksUrl, connections: 8, duration: 2 });
  check(run.non2xx === 0 && run.errors === 0, `autocannon non2xx ${run.non2xx} errors ${run.errors}`);
  console.log(
    `[${label}] autocannon JWKS 2 s x 8 connections: ${Math.round(run.requests.average)} req/s, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, non-2xx ${run.non2xx}, errors ${run.errors}`,
  );
  console.log(`[${label}] peer RSS ${rssMb(peer.pid)} MB`);
}

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${availableParallelism()} CPUs`);
  const memory = await startOidcProvider();
  try {
    await exercise('memory', memory);
  } finally {
    await memory.close();
  }

  if (!(await postgresReachable())) {
    console.log(`[postgres] ${ADMIN_URL} not reachable: skipped`);
    return;
  }
  const core = String(availableParallelism() - 1);
  const start = performance.now();
  const pinned = await startOidcProvider({ databaseUrl: ADMIN_URL, cores: core });
  console.log(`[postgres] pinned child (taskset -c ${core}) ready in ${(performance.now() - start).toFixed(0)} ms`);
  const database = pinned.database;
  const allowed = readFileSync(`/proc/${pinned.pid}/status`, 'utf8').match(/Cpus_allowed_list:\s*(\S+)/)?.[1];
  check(allowed === core, `pinned to ${core}, affinity ${allowed}`);
  console.log(`[postgres] child pid ${pinned.pid} Cpus_allowed_list ${allowed}`);
  try {
    await exercise('postgres', pinned);
  } finally {
    const stopping = performance.now();
    await pinned.close();
    console.log(`[postgres] SIGTERM to exit (database dropped) in ${(performance.now() - stopping).toFixed(0)} ms`);
  }
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  await admin.end();
  check(left.rowCount === 0, `database ${database} dropped`);
  console.log(`[postgres] stopped; database ${database} dropped`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
