// Writes conformance/cases.json: a language-neutral pack of access tokens that a
// Tessera verifier must accept or refuse. Keys are generated on each run and their
// private halves are never written; everything else is fixed.
//
//   npm run conformance               (writes conformance/cases.json)
//   npx tsx scripts/generate-conformance.ts out.json
import { constants, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { calculateJwkThumbprint, type JWK } from 'jose';

export const PACK_FORMAT = 'tessera-conformance/1';
/** 2026-01-01T00:00:00Z: every token is judged at this instant. */
export const PACK_NOW = 1_767_225_600;
const ISSUER = 'https://tessera.example';
const AUDIENCE = 'https://api.example';

export interface ConformanceCase {
  name: string;
  token: string;
  expect: 'valid' | 'invalid';
  reason: string;
  /** The code Tessera's own verifier gives; informational for other implementations. */
  code?: string;
}

export interface ConformancePack {
  format: string;
  description: string;
  issuer: string;
  audience: string;
  now: number;
  leeway: number;
  max_token_length: number;
  algorithms: string[];
  jwks: { keys: JWK[] };
  cases: ConformanceCase[];
}

interface Key {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

async function makeKey(alg: 'ES256' | 'RS256' | 'EdDSA'): Promise<Key> {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 3072 })
        : generateKeyPairSync('ed25519');
  const exported = pair.publicKey.export({ format: 'jwk' }) as JWK;
  const members = exported.kty === 'RSA' ? ['n', 'e'] : exported.kty === 'EC' ? ['crv', 'x', 'y'] : ['crv', 'x'];
  const material: Record<string, unknown> = { kty: exported.kty };
  for (const member of members) material[member] = (exported as Record<string, unknown>)[member];
  const kid = await calculateJwkThumbprint(material, 'sha256');
  // Same members and order as Tessera's published keys.
  const publicJwk = {
    kty: exported.kty,
    kid,
    alg,
    use: 'sig',
    ...Object.fromEntries(members.map((m) => [m, material[m]])),
  } as JWK;
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, publicJwk };
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs the JWS signing input with exactly the algorithm given, whatever the header says. */
function signature(algorithm: string, input: string, key: KeyObject | Buffer): string {
  const data = Buffer.from(input);
  const raw = (() => {
    switch (algorithm) {
      case 'ES256':
        return sign('sha256', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
      case 'ES384':
        return sign('sha384', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
      case 'RS256':
        return sign('sha256', data, key);
      case 'PS256':
        return sign('sha256', data, {
          key: key as KeyObject,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: 32,
        });
      case 'EdDSA':
        return sign(null, data, key);
      case 'HS256':
        return createHmac('sha256', key).update(data).digest();
      default:
        throw new Error(`cannot sign ${algorithm}`);
    }
  })();
  return raw.toString('base64url');
}

function jws(
  header: Record<string, unknown>,
  payload: unknown,
  signWith: { algorithm: string; key: KeyObject | Buffer } | null,
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signWith ? signature(signWith.algorithm, input, signWith.key) : ''}`;
}

export async function generateConformancePack(): Promise<ConformancePack> {
  const [es, rs, ed, refreshKey, attacker] = await Promise.all([
    makeKey('ES256'),
    makeKey('RS256'),
    makeKey('EdDSA'),
    makeKey('ES256'), // never published, like Tessera's refresh key
    makeKey('ES256'), // an attacker's own key
  ]);
  const now = PACK_NOW;
  const claims = (name: string, extra: Record<string, unknown> = {}, omit: string[] = []) => {
    const all: Record<string, unknown> = {
      iss: ISSUER,
      sub: '8d0f3b6e-4a57-4f6b-9a52-0c6a2f1e9b31',
      aud: AUDIENCE,
      exp: now + 600,
      iat: now,
      nbf: now,
      jti: `conformance-${name}`,
      client_id: 'tessera',
      scope: 'openid profile email',
      sid: '2b9e5c61-7d0a-4c1e-8f3a-5e6d7c8b9a01',
      roles: ['user'],
      auth_time: now - 30,
      ...extra,
    };
    for (const claim of omit) delete all[claim];
    return all;
  };
  const header = (key: Key, extra: Record<string, unknown> = {}) => ({
    alg: key.alg,
    kid: key.kid,
    typ: 'at+jwt',
    ...extra,
  });
  const by = (key: Key) => ({ algorithm: key.alg, key: key.privateKey });
  const valid = (name: string) => jws(header(es), claims(name), by(es));
  const cases: ConformanceCase[] = [];
  const add = (name: string, token: string, reason: string, code?: string) =>
    cases.push({ name, token, expect: code ? 'invalid' : 'valid', reason, ...(code ? { code } : {}) });

  // Accepted.
  add('valid-es256', valid('valid-es256'), 'A well-formed access token signed with the published ES256 key.');
  add(
    'valid-rs256',
    jws(header(rs), claims('valid-rs256'), by(rs)),
    'Signed with the published RS256 key (3072 bits).',
  );
  add(
    'valid-eddsa',
    jws(header(ed), claims('valid-eddsa'), by(ed)),
    'Signed with the published Ed25519 key (alg EdDSA).',
  );
  add(
    'valid-typ-media-type',
    jws(header(es, { typ: 'application/at+jwt' }), claims('valid-typ-media-type'), by(es)),
    'RFC 9068 allows typ "application/at+jwt" as well as "at+jwt".',
  );
  add(
    'valid-aud-array',
    jws(header(es), claims('valid-aud-array', { aud: ['https://other.example', AUDIENCE] }), by(es)),
    'aud is a list that contains the expected audience.',
  );
  add(
    'valid-client-credentials',
    jws(
      header(es),
      claims(
        'valid-client-credentials',
        { sub: 'reporting-service', client_id: 'reporting-service', scope: 'reports:read' },
        ['sid', 'roles', 'auth_time'],
      ),
      by(es),
    ),
    'A client_credentials token: sub is the client id, no sid, roles or auth_time.',
  );

  // Algorithm attacks.
  add(
    'alg-none',
    jws(header(es, { alg: 'none' }), claims('alg-none'), null),
    'Unsecured JWS (alg "none") must never be accepted.',
    'ERR_ALG_NOT_ALLOWED',
  );
  add(
    'alg-none-capitalized',
    jws(header(es, { alg: 'None' }), claims('alg-none-capitalized'), null),
    'alg "None": case tricks on the none algorithm.',
    'ERR_ALG_NOT_ALLOWED',
  );
  // The RSA public key as an attacker would download it: SPKI PEM bytes.
  const rsaPem = Buffer.from(rs.publicKey.export({ format: 'pem', type: 'spki' }));
  add(
    'alg-confusion-hs256-public-pem',
    jws(header(rs, { alg: 'HS256' }), claims('alg-confusion-hs256-public-pem'), { algorithm: 'HS256', key: rsaPem }),
    'HS256 keyed with the published RSA public key (PEM bytes): the classic algorithm confusion attack. HS* must never be allowed.',
    'ERR_ALG_NOT_ALLOWED',
  );
  add(
    'alg-confusion-hs256-public-jwk',
    jws(header(es, { alg: 'HS256' }), claims('alg-confusion-hs256-public-jwk'), {
      algorithm: 'HS256',
      key: Buffer.from(JSON.stringify(es.publicJwk)),
    }),
    'HS256 keyed with the JSON bytes of the published EC public JWK.',
    'ERR_ALG_NOT_ALLOWED',
  );
  add(
    'alg-mismatch-ps256-on-rs256-key',
    jws(header(rs, { alg: 'PS256' }), claims('alg-mismatch-ps256-on-rs256-key'), {
      algorithm: 'PS256',
      key: rs.privateKey,
    }),
    'Header alg PS256 with the kid of the RS256 key; the PSS signature is genuine for that key material, but the key is published for RS256 only.',
    'ERR_KEY_ALG_MISMATCH',
  );
  add(
    'alg-mismatch-es384-on-p256-key',
    jws(header(es, { alg: 'ES384' }), claims('alg-mismatch-es384-on-p256-key'), {
      algorithm: 'ES384',
      key: es.privateKey,
    }),
    "Header alg ES384 with the kid of the P-256 ES256 key (genuine ECDSA P-256 + SHA-384 signature): ES384 is not an allowed algorithm and not the key's alg.",
    'ERR_ALG_NOT_ALLOWED',
  );

  // Keys named by the token itself.
  add(
    'header-jwk-attacker-key',
    jws(header(attacker, { jwk: attacker.publicJwk }), claims('header-jwk-attacker-key'), by(attacker)),
    'Signed with an attacker key that the header embeds as "jwk": keys come only from the published JWKS.',
    'ERR_KEY_REFERENCE_HEADER',
  );
  add(
    'header-jwk-published-key',
    jws(header(es, { jwk: es.publicJwk }), claims('header-jwk-published-key'), by(es)),
    'Genuinely signed, but carries a "jwk" header; Tessera never sends one, so it is refused outright.',
    'ERR_KEY_REFERENCE_HEADER',
  );
  add(
    'header-jku',
    jws(header(attacker, { jku: 'https://attacker.example/jwks.json' }), claims('header-jku'), by(attacker)),
    'Points at an attacker JWKS with "jku"; it must never be fetched.',
    'ERR_KEY_REFERENCE_HEADER',
  );
  add(
    'header-x5u',
    jws(header(attacker, { x5u: 'https://attacker.example/cert.pem' }), claims('header-x5u'), by(attacker)),
    'Points at an attacker certificate with "x5u"; it must never be fetched.',
    'ERR_KEY_REFERENCE_HEADER',
  );
  add(
    'header-x5c',
    jws(header(es, { x5c: ['MIIBszCCAVmgAwIBAgIUJ2Fm'] }), claims('header-x5c'), by(es)),
    'Carries an "x5c" certificate chain; Tessera never sends one.',
    'ERR_KEY_REFERENCE_HEADER',
  );
  add(
    'header-crit',
    jws(header(es, { crit: ['urn:example:policy'], 'urn:example:policy': 'strict' }), claims('header-crit'), by(es)),
    'Carries "crit" with an extension nobody understands (RFC 7515 4.1.11 says refuse).',
    'ERR_KEY_REFERENCE_HEADER',
  );

  // Integrity.
  const good = valid('tampered-payload');
  const [h, , s] = good.split('.');
  add(
    'tampered-payload',
    `${h}.${b64(claims('tampered-payload', { roles: ['admin'] }))}.${s}`,
    'Payload changed after signing (roles raised to admin).',
    'ERR_SIGNATURE',
  );
  add(
    'stripped-signature',
    `${valid('stripped-signature').split('.').slice(0, 2).join('.')}.`,
    'The signature segment is removed.',
    'ERR_SIGNATURE',
  );
  add(
    'unknown-kid',
    jws(header(attacker, { kid: 'f3JBmzR0mV7aXUVHcXh5bWpDQ2R1b0VtNkRzZ0pWSFE' }), claims('unknown-kid'), by(attacker)),
    'A kid that is not in the JWKS (signed with an unpublished key).',
    'ERR_UNKNOWN_KID',
  );
  add(
    'missing-kid',
    jws({ alg: 'ES256', typ: 'at+jwt' }, claims('missing-kid'), by(es)),
    'No kid: Tessera always names its key; guessing among keys is not done.',
    'ERR_UNKNOWN_KID',
  );

  // Token type.
  add(
    'refresh-token',
    jws(
      { alg: refreshKey.alg, kid: refreshKey.kid, typ: 'refresh+jwt' },
      {
        iss: ISSUER,
        sub: claims('x').sub,
        aud: ISSUER,
        sid: claims('x').sid,
        jti: 'conformance-refresh-token',
        iat: now,
        exp: now + 2_592_000,
      },
      by(refreshKey),
    ),
    'A Tessera refresh token (typ refresh+jwt, signed with a key that is never published) presented as an access token.',
    'ERR_TYP',
  );
  add(
    'missing-typ',
    jws({ alg: es.alg, kid: es.kid }, claims('missing-typ'), by(es)),
    'No typ header: RFC 9068 requires at+jwt.',
    'ERR_TYP',
  );
  add(
    'typ-jwt',
    jws(header(es, { typ: 'JWT' }), claims('typ-jwt'), by(es)),
    'typ "JWT" (e.g. an ID token) is not an access token.',
    'ERR_TYP',
  );

  // Time.
  add(
    'expired',
    jws(
      header(es),
      claims('expired', { iat: now - 7200, nbf: now - 7200, auth_time: now - 7200, exp: now - 3600 }),
      by(es),
    ),
    'exp an hour before now.',
    'ERR_EXPIRED',
  );
  add(
    'not-yet-valid',
    jws(header(es), claims('not-yet-valid', { nbf: now + 3600, exp: now + 4200 }), by(es)),
    'nbf an hour after now.',
    'ERR_NOT_YET_VALID',
  );
  add(
    'issued-in-future',
    jws(header(es), claims('issued-in-future', { iat: now + 3600, exp: now + 4200 }, ['nbf']), by(es)),
    'iat an hour after now (no nbf).',
    'ERR_ISSUED_IN_FUTURE',
  );

  // Claims.
  add(
    'wrong-iss',
    jws(header(es), claims('wrong-iss', { iss: 'https://evil.example' }), by(es)),
    'iss is another issuer.',
    'ERR_CLAIM_INVALID',
  );
  add(
    'wrong-aud',
    jws(header(es), claims('wrong-aud', { aud: 'https://other-api.example' }), by(es)),
    'aud names another resource.',
    'ERR_CLAIM_INVALID',
  );
  for (const claim of ['exp', 'iat', 'sub', 'jti', 'aud', 'iss']) {
    add(
      `missing-${claim}`,
      jws(header(es), claims(`missing-${claim}`, {}, [claim]), by(es)),
      `No ${claim} claim.`,
      'ERR_CLAIM_INVALID',
    );
  }
  add(
    'exp-not-a-number',
    jws(header(es), claims('exp-not-a-number', { exp: String(now + 600) }), by(es)),
    'exp is a string, not a NumericDate.',
    'ERR_CLAIM_INVALID',
  );

  // Shape.
  add(
    'oversized',
    jws(header(es), claims('oversized', { padding: 'x'.repeat(7000) }), by(es)),
    'Genuinely signed but longer than 8192 characters: refused before parsing.',
    'ERR_TOKEN_TOO_LARGE',
  );
  add(
    'two-segments',
    valid('two-segments').split('.').slice(0, 2).join('.'),
    'Only two segments.',
    'ERR_TOKEN_MALFORMED',
  );
  add('not-a-jwt', 'this is not a token', 'Not a compact JWS at all.', 'ERR_TOKEN_MALFORMED');

  return {
    format: PACK_FORMAT,
    description: 'Tessera access token conformance cases; see conformance/README.md.',
    issuer: ISSUER,
    audience: AUDIENCE,
    now,
    leeway: 5,
    max_token_length: 8192,
    algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    jwks: { keys: [es.publicJwk, rs.publicJwk, ed.publicJwk] },
    cases,
  };
}

/** Stable JSON: two-space indentation and a final newline. */
export function serializePack(pack: ConformancePack): string {
  return `${JSON.stringify(pack, null, 2)}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = resolve(process.argv[2] ?? 'conformance/cases.json');
  const pack = await generateConformancePack();
  writeFileSync(out, serializePack(pack));
  console.log(`wrote ${pack.cases.length} cases to ${out}`);
}
