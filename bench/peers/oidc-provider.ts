// The benchmark peer: panva's oidc-provider (certified OpenID provider, v9) configured as
// Tessera is: one ES256 signing key, JWT access tokens (RFC 9068, typ at+jwt) for one fixed
// resource, access tokens valid 600 s, refresh tokens valid 30 days and rotated on every use.
//
// As a module: startOidcProvider({ port, databaseUrl, cores }). With `cores` it spawns this
// file as a script under `taskset -c <cores>` and talks to it over IPC; without, it runs in
// this process. As a script:
//
//   taskset -c 2 node --import tsx bench/peers/oidc-provider.ts \
//     [--port 0] [--database-url postgres://postgres@127.0.0.1:5432/postgres | --map-store] \
//     [--refresh-tokens N] [--refresh-tokens-file PATH]
//
// prints one JSON line on stdout once listening ({ url, jwksUrl, tokenUrl, resource, clients,
// database, refreshTokens? }) and serves until SIGTERM or SIGINT. `--database-url` names an
// administrative connection: a fresh database bench_peer_<random> is created there and
// dropped on exit. With `--map-store`, an unbounded in-memory adapter (./oidc-provider-map-adapter.ts,
// the side-by-side bench's database-free peer). With neither, oidc-provider's own in-memory
// adapter (at most 1,000 entries: smoke runs only).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors, type ClientMetadata, type Configuration, type JWK } from 'oidc-provider';
import { mapAdapter } from './oidc-provider-map-adapter.js';
import { createPgAdapterStore, dropDatabase, type PgAdapterStore } from './oidc-provider-pg-adapter.js';
import { startPinnedChild, type ChildMessage } from '../pinned-child.js';

export const CC_CLIENT_ID = 'bench-cc';
export const RT_CLIENT_ID = 'bench-rt';
/** The one resource (audience) every access token is issued for. */
const RESOURCE = 'https://api.bench.example';
const RESOURCE_SCOPE = 'api';
const ACCESS_TOKEN_TTL = 600;
const REFRESH_TOKEN_TTL = 30 * 24 * 3600;

interface PeerClient {
  client_id: string;
  client_secret: string;
  grant_types: string[];
  token_endpoint_auth_method: 'client_secret_basic';
}

interface PeerInfo {
  url: string;
  jwksUrl: string;
  tokenUrl: string;
  resource: string;
  clients: PeerClient[];
  /** The PostgreSQL database created for this run, or null in memory. */
  database: string | null;
  pid: number;
}

export interface OidcProviderPeer extends PeerInfo {
  /** Issues `n` fresh refresh tokens for bench-rt (one grant and one account each). */
  mintRefreshTokens(n: number): Promise<string[]>;
  /** Stops serving and drops the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** An administrative PostgreSQL URL; omitted, an in-memory adapter. */
  databaseUrl?: string;
  /** Without databaseUrl: the unbounded Map adapter instead of oidc-provider's 1,000-entry LRU. */
  mapStore?: boolean;
  /** CPU list for `taskset -c` (e.g. "2" or "2,3"): runs the peer in a pinned child process. */
  cores?: string;
  /** Connections in the PostgreSQL pool (default 10, as Tessera's). */
  poolSize?: number;
}

export function startOidcProvider(options: StartOptions = {}): Promise<OidcProviderPeer> {
  return options.cores === undefined ? startInProcess(options) : startPinned({ ...options, cores: options.cores });
}

async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: randomBytes(8).toString('base64url'), alg: 'ES256', use: 'sig' };
}

function configuration(
  clients: ClientMetadata[],
  key: JWK,
  adapter: PgAdapterStore['adapter'] | undefined,
): Configuration {
  return {
    ...(adapter ? { adapter } : {}),
    clients,
    jwks: { keys: [key] },
    // Accounts are not looked up anywhere: every subject exists.
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clientDefaults: {
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    scopes: ['openid', 'offline_access', RESOURCE_SCOPE],
    clientBasedCORS: () => false,
    expiresWithSession: () => false,
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      ClientCredentials: ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      IdToken: ACCESS_TOKEN_TTL,
      RefreshToken: REFRESH_TOKEN_TTL,
      Grant: REFRESH_TOKEN_TTL,
      Interaction: 900,
      Session: 86_400,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: RESOURCE_SCOPE,
            audience: RESOURCE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ACCESS_TOKEN_TTL,
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
  };
}

async function startInProcess({ port = 0, databaseUrl, poolSize, mapStore }: StartOptions): Promise<OidcProviderPeer> {
  const store = databaseUrl ? await createPgAdapterStore(databaseUrl, { poolSize }) : undefined;
  let server: Server | undefined;
  try {
    server = createServer();
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const clients: PeerClient[] = [
      {
        client_id: CC_CLIENT_ID,
        client_secret: randomBytes(32).toString('base64url'),
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: RT_CLIENT_ID,
        client_secret: randomBytes(32).toString('base64url'),
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ];
    const metadata: ClientMetadata[] = [
      { ...clients[0]!, response_types: [], redirect_uris: [], scope: RESOURCE_SCOPE },
      {
        ...clients[1]!,
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        scope: `openid offline_access ${RESOURCE_SCOPE}`,
      },
    ];
    const adapter = store?.adapter ?? (mapStore ? mapAdapter() : undefined);
    const provider = new Provider(url, configuration(metadata, await signingKey(), adapter));
    provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error:', error));
    const handle = provider.callback();
    server.on('request', (req, res) => void handle(req, res));

    const mintRefreshTokens = async (n: number): Promise<string[]> => {
      const client = await provider.Client.find(RT_CLIENT_ID);
      if (!client) throw new Error(`${RT_CLIENT_ID} not found`);
      const authTime = Math.floor(Date.now() / 1000);
      const mintOne = async (): Promise<string> => {
        const accountId = `bench-user-${randomBytes(6).toString('hex')}`;
        const grant = new provider.Grant({ accountId, clientId: RT_CLIENT_ID });
        grant.addOIDCScope('offline_access');
        grant.addResourceScope(RESOURCE, RESOURCE_SCOPE);
        const grantId = await grant.save();
        const token = new provider.RefreshToken({
          client,
          accountId,
          grantId,
          authTime,
          gty: 'authorization_code',
          scope: `offline_access ${RESOURCE_SCOPE}`,
          resource: RESOURCE,
          expiresWithSession: false,
        });
        return token.save();
      };
      const out: string[] = [];
      // A few at a time: the pool has 10 connections, each token two inserts.
      for (let i = 0; i < n; i += 16) {
        out.push(...(await Promise.all(Array.from({ length: Math.min(16, n - i) }, mintOne))));
      }
      return out;
    };

    const listening = server;
    let closed: Promise<void> | undefined;
    return {
      url,
      jwksUrl: `${url}/jwks`,
      tokenUrl: `${url}/token`,
      resource: RESOURCE,
      clients,
      database: store?.database ?? null,
      pid: process.pid,
      mintRefreshTokens,
      close: () =>
        (closed ??= (async () => {
          listening.closeAllConnections();
          await new Promise<void>((resolve) => listening.close(() => resolve()));
          await store?.close();
        })()),
    };
  } catch (error) {
    server?.close();
    await store?.close();
    throw error;
  }
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO_ROOT = join(dirname(SCRIPT), '..', '..');

async function startPinned(options: StartOptions & { cores: string }): Promise<OidcProviderPeer> {
  const args = ['--port', String(options.port ?? 0)];
  if (options.databaseUrl) args.push('--database-url', options.databaseUrl);
  else if (options.mapStore) args.push('--map-store');
  if (options.poolSize) args.push('--pool-size', String(options.poolSize));
  const child = await startPinnedChild<PeerInfo>({
    label: 'oidc-provider peer',
    cores: options.cores,
    script: SCRIPT,
    args,
    cwd: REPO_ROOT,
  });
  const { databaseUrl } = options;
  const { database } = child.info;
  return {
    ...child.info,
    mintRefreshTokens: (n) => child.mintRefreshTokens(n),
    // Had the child died without cleaning up, its database would be left behind.
    close: () => child.close(databaseUrl && database ? () => dropDatabase(databaseUrl, database) : undefined),
  };
}

function argument(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i === -1 ? undefined : argv[i + 1];
}

async function main(argv: string[]): Promise<void> {
  // oidc-provider prints its notices with console.info: keep stdout for the JSON line.
  console.info = console.error;
  const count = Number(argument(argv, '--refresh-tokens') ?? 0);
  const file = argument(argv, '--refresh-tokens-file');
  const poolSize = argument(argv, '--pool-size');
  const peer = await startInProcess({
    port: Number(argument(argv, '--port') ?? 0),
    databaseUrl: argument(argv, '--database-url') ?? process.env.PEER_DATABASE_URL,
    poolSize: poolSize ? Number(poolSize) : undefined,
    mapStore: argv.includes('--map-store'),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void peer.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.on('message', (message: { id: number; mint: number }) => {
    peer.mintRefreshTokens(message.mint).then(
      (tokens) => process.send?.({ id: message.id, tokens } satisfies ChildMessage),
      (error: Error) => process.send?.({ id: message.id, error: error.message } satisfies ChildMessage),
    );
  });
  const info: PeerInfo = {
    url: peer.url,
    jwksUrl: peer.jwksUrl,
    tokenUrl: peer.tokenUrl,
    resource: peer.resource,
    clients: peer.clients,
    database: peer.database,
    pid: peer.pid,
  };
  let refreshTokens: string[] | undefined;
  if (count > 0) {
    refreshTokens = await peer.mintRefreshTokens(count);
    if (file) {
      writeFileSync(file, `${refreshTokens.join('\n')}\n`);
      refreshTokens = undefined;
    }
  }
  process.stdout.write(`${JSON.stringify({ ...info, ...(refreshTokens ? { refreshTokens } : {}) })}\n`);
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
