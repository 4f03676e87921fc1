// A stand-in issuer on a real 127.0.0.1 HTTP server (discovery, JWKS with ETag and
// Cache-Control, the revocation list), and signing keys for tests of the verifier kit.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(alg: 'ES256' | 'RS256' | 'EdDSA' | 'PS256' = 'ES256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(
    alg,
    alg === 'RS256' || alg === 'PS256' ? { modulusLength: 2048 } : {},
  );
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { kid, alg, privateKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

export interface TokenOptions {
  issuer: string;
  audience: string | string[];
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** Epoch seconds; default now. */
  iat?: number;
  ttl?: number;
}

export async function signAccessToken(key: TestKey, options: TokenOptions): Promise<string> {
  const iat = options.iat ?? Math.floor(Date.now() / 1000);
  return new SignJWT({
    client_id: 'tessera',
    scope: 'openid profile',
    sid: randomUUID(),
    roles: ['user'],
    ...options.claims,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...options.header })
    .setIssuer(options.issuer)
    .setSubject(typeof options.claims?.sub === 'string' ? options.claims.sub : randomUUID())
    .setAudience(options.audience)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + (options.ttl ?? 600))
    .setJti(typeof options.claims?.jti === 'string' ? options.claims.jti : randomUUID())
    .sign(key.privateKey);
}

export interface RecordedRequest {
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export interface RevokedAnswer {
  status: number;
  body: unknown;
}

export type JwksMode = 'ok' | 'garbage' | 'error' | 'hang';

export interface StubIssuer {
  /** The issuer URL, http://127.0.0.1:PORT */
  url: string;
  jwksUri: string;
  /** Published keys; change freely. */
  keys: JWK[];
  /** Cache-Control sent with the JWKS; null sends none. */
  cacheControl: string | null;
  /** Whether the JWKS carries an ETag and honours If-None-Match. */
  etags: boolean;
  mode: JwksMode;
  /** The issuer named in the discovery document; default url. */
  metadataIssuer: string | undefined;
  /** Answers GET /oauth/revoked; default 404. */
  revoked: ((request: RecordedRequest) => RevokedAnswer | Promise<RevokedAnswer>) | undefined;
  requests: RecordedRequest[];
  count(path: string): number;
  /** Stops answering: the port refuses connections from now on. */
  close(): Promise<void>;
}

export async function startStubIssuer(): Promise<StubIssuer> {
  const hanging = new Set<() => void>();
  const stub = {
    url: '',
    jwksUri: '',
    keys: [] as JWK[],
    cacheControl: 'public, max-age=300' as string | null,
    etags: true,
    mode: 'ok' as JwksMode,
    metadataIssuer: undefined as string | undefined,
    revoked: undefined as StubIssuer['revoked'],
    requests: [] as RecordedRequest[],
    count(path: string) {
      return stub.requests.filter((r) => r.path === path).length;
    },
    close: async (): Promise<void> => undefined,
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const recorded = { path: url.pathname, query: url.searchParams, headers: req.headers };
    stub.requests.push(recorded);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      return json(200, {
        issuer: stub.metadataIssuer ?? stub.url,
        jwks_uri: stub.jwksUri,
        token_endpoint: `${stub.url}/oauth/token`,
      });
    }
    if (url.pathname === '/jwks.json') {
      if (stub.mode === 'hang') return void hanging.add(() => res.destroy());
      if (stub.mode === 'error') return json(500, { error: 'server_error' });
      if (stub.mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
        return void res.end('<html>not json</html>');
      }
      const body = JSON.stringify({ keys: stub.keys });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (stub.cacheControl !== null) headers['cache-control'] = stub.cacheControl;
      if (stub.etags) {
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
        headers.etag = etag;
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, headers);
          return void res.end();
        }
      }
      res.writeHead(200, headers);
      return void res.end(body);
    }
    if (url.pathname === '/oauth/revoked' && stub.revoked) {
      return void Promise.resolve(stub.revoked(recorded)).then(({ status, body }) => json(status, body));
    }
    return json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  stub.url = `http://127.0.0.1:${port}`;
  stub.jwksUri = `${stub.url}/jwks.json`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      for (const end of hanging) end();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return stub;
}

/** A clock tests move by hand: epoch milliseconds. */
export function manualClock(start = Date.now()) {
  let current = start;
  return {
    now: () => current,
    advance(seconds: number) {
      current += seconds * 1000;
    },
    seconds: () => Math.floor(current / 1000),
  };
}
