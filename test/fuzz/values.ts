// Values the fuzzer plugs into requests. Real identifiers and tokens (an admin's access
// token, a kid, a client secret) are not known when fast-check generates a case and change
// while the run goes on, so generated cases hold references resolved just before sending.
import { createHmac, generateKeyPairSync, randomUUID, sign } from 'node:crypto';

/** What the running service currently has: filled and refreshed by the harness. */
export interface Live {
  issuer: string;
  actors: Record<ActorName, { id: string; email: string; access: string; refresh: string; sid: string }>;
  victim: { id: string; email: string };
  /** Introspecting client and a plain one. */
  clients: Record<'introspector' | 'plain', { id: string; secret: string }>;
  /** Every kid in the database, the current access kid first. */
  kids: string[];
  /** The current access key's public JWK (for key-confusion forgeries). */
  accessJwk: Record<string, unknown>;
  etag: string;
  /** Tokens the service answered during the run. */
  pool: { access: string[]; refresh: string[] };
}

export type ActorName = 'admin' | 'moderator' | 'user';

/** A value known only at send time: a closure over the live state, and how to print it. */
export class Ref {
  constructor(
    readonly label: string,
    readonly resolve: (live: Live) => string,
  ) {}
  toString(): string {
    return `<${this.label}>`;
  }
  toJSON(): string {
    return this.toString();
  }
}

export type Val = string | Ref;
export type Tree = null | boolean | number | string | Ref | Tree[] | { [key: string]: Tree };

export const ref = (label: string, resolve: (live: Live) => string) => new Ref(label, resolve);
const pick = <T>(list: readonly T[], i: number): T | undefined =>
  list.length === 0 ? undefined : list[i % list.length];

export const resolveVal = (v: Val, live: Live): string => (typeof v === 'string' ? v : v.resolve(live));

export function resolveTree(t: Tree, live: Live): unknown {
  if (t instanceof Ref) return t.resolve(live);
  if (Array.isArray(t)) return t.map((x) => resolveTree(x, live));
  if (t !== null && typeof t === 'object') {
    // defineProperty keeps a generated "__proto__" key an own key, as JSON.parse would make it.
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(t))
      Object.defineProperty(out, k, {
        value: resolveTree(v, live),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  return t;
}

export const concat = (...parts: Val[]): Val =>
  parts.every((p) => typeof p === 'string')
    ? parts.join('')
    : ref(parts.map(String).join(''), (live) => parts.map((p) => resolveVal(p, live)).join(''));

export const base64 = (v: Val): Val =>
  typeof v === 'string'
    ? Buffer.from(v, 'utf8').toString('base64')
    : ref(`base64(${v.label})`, (live) => Buffer.from(resolveVal(v, live), 'utf8').toString('base64'));

// ---- references to the live state ----

export const actorRef = (actor: ActorName, field: 'id' | 'email' | 'access' | 'refresh' | 'sid') =>
  ref(`${actor}.${field}`, (live) => live.actors[actor][field]);
export const victimRef = (field: 'id' | 'email') => ref(`victim.${field}`, (live) => live.victim[field]);
export const clientRef = (client: 'introspector' | 'plain', field: 'id' | 'secret') =>
  ref(`${client}.${field}`, (live) => live.clients[client][field]);
export const kidRef = (i: number) => ref(`kid#${i}`, (live) => pick(live.kids, i) ?? 'no-kid');
export const poolRef = (kind: 'access' | 'refresh', i: number) =>
  ref(`pool.${kind}#${i}`, (live) => pick(live.pool[kind], i) ?? live.actors.user[kind]);
export const etagRef = ref('jwks.etag', (live) => live.etag);
export const issuerRef = ref('issuer', (live) => live.issuer);

// ---- forged tokens ----

export interface Forgery {
  /** How the token is put together. */
  method:
    | 'alg-none'
    | 'hs256-public-key'
    | 'hs256-random'
    | 'embedded-jwk'
    | 'garbage-signature'
    | 'claims-swapped'
    | 'signature-stripped'
    | 'refresh-as-access'
    | 'header-only'
    | 'extra-segments';
  alg: string;
  typ: string | undefined;
  kid: 'real' | 'random' | 'traversal' | 'sql' | 'missing' | 'huge';
  claims: Record<string, unknown>;
  subject: ActorName | 'victim' | 'random';
}

const b64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');
const decodeSegment = (segment: string | undefined): Record<string, unknown> => {
  try {
    return JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
};

/** Claims a token would carry, read without verifying anything. */
export const decodeClaims = (token: string) => decodeSegment(token.split('.')[1]);

/** An attacker's own EC key, for tokens that carry their verification key in the header. */
const ATTACKER = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ATTACKER_JWK = ATTACKER.publicKey.export({ format: 'jwk' });

function kidFor(f: Forgery, live: Live): string | undefined {
  switch (f.kid) {
    case 'real':
      return live.kids[0];
    case 'random':
      return randomUUID();
    case 'traversal':
      return '../../../../etc/passwd';
    case 'sql':
      return "x' UNION SELECT private_key_enc FROM signing_keys --";
    case 'huge':
      return 'k'.repeat(3000);
    case 'missing':
      return undefined;
  }
}

export function forge(f: Forgery, live: Live): string {
  const now = Math.floor(Date.now() / 1000);
  const subject =
    f.subject === 'random' ? randomUUID() : f.subject === 'victim' ? live.victim.id : live.actors[f.subject].id;
  const sid =
    f.subject === 'admin' || f.subject === 'moderator' || f.subject === 'user'
      ? live.actors[f.subject].sid
      : randomUUID();
  const payload = {
    iss: live.issuer,
    sub: subject,
    aud: live.issuer,
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: randomUUID(),
    client_id: 'tessera',
    scope: 'openid profile email',
    sid,
    roles: ['admin'],
    auth_time: now,
    ...f.claims,
  };
  const header: Record<string, unknown> = { alg: f.alg, ...(f.typ !== undefined ? { typ: f.typ } : {}) };
  const kid = kidFor(f, live);
  if (kid !== undefined) header.kid = kid;
  const real = live.actors.admin.access;
  const [realHeader = '', realPayload = '', realSignature = ''] = real.split('.');
  switch (f.method) {
    case 'alg-none':
      return `${b64url({ ...header, alg: f.alg.toLowerCase().startsWith('n') ? f.alg : 'none' })}.${b64url(payload)}.`;
    case 'hs256-public-key': {
      // Key confusion: the published public key used as an HMAC secret.
      const h = b64url({ ...header, alg: 'HS256' });
      const p = b64url(payload);
      const secret = JSON.stringify(live.accessJwk);
      return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
    }
    case 'hs256-random': {
      const h = b64url({ ...header, alg: 'HS256' });
      const p = b64url(payload);
      return `${h}.${p}.${createHmac('sha256', 'secret').update(`${h}.${p}`).digest('base64url')}`;
    }
    case 'embedded-jwk': {
      const h = b64url({ ...header, alg: 'ES256', jwk: ATTACKER_JWK, jku: 'https://evil.example/jwks.json' });
      const p = b64url(payload);
      const signature = sign('sha256', Buffer.from(`${h}.${p}`), {
        key: ATTACKER.privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      return `${h}.${p}.${signature.toString('base64url')}`;
    }
    case 'garbage-signature':
      return `${b64url(header)}.${b64url(payload)}.${b64url('not a signature at all')}`;
    case 'claims-swapped':
      // A real header and signature over claims the attacker chose.
      return `${realHeader}.${b64url({ ...decodeSegment(realPayload), ...f.claims, roles: ['admin'] })}.${realSignature}`;
    case 'signature-stripped':
      return `${realHeader}.${realPayload}.`;
    case 'refresh-as-access':
      return live.actors.admin.refresh;
    case 'header-only':
      return `${b64url(header)}`;
    case 'extra-segments':
      return `${real}.${b64url(payload)}.x`;
  }
}

export const forgedRef = (f: Forgery) =>
  ref(`forged(${f.method},${f.alg},${f.kid},${f.subject})`, (live) => forge(f, live));
