// Signs a JWS in compact serialization (RFC 7515 7.1) with node:crypto's one-shot sign on
// the libuv pool: for ES256 about 40 µs of signing and no more, where jose's SignJWT
// (WebCrypto, its claim builder and encoders) took about 100 µs of the event loop per
// token. Signing only: every token is verified by the verifier kit's core, jose inside.
import { constants, KeyObject, sign, type SignKeyObjectInput, type SignPrivateKeyInput } from 'node:crypto';
import type { CryptoKey, KeyObject as JoseKeyObject } from 'jose';

type SignKeyInput = SignKeyObjectInput | SignPrivateKeyInput;

interface Algorithm {
  hash: string | null;
  /** node:crypto signs with any private key whatever the header says: the key must fit the alg. */
  fits(key: KeyObject): boolean;
  options(key: KeyObject): KeyObject | SignKeyInput;
}

const rsaFits = (key: KeyObject) =>
  key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;

/** The algorithms the keystore signs with (SIGNING_ALG). */
const ALGORITHMS: Record<string, Algorithm> = {
  // RFC 7518 3.4: P-256, and r || s rather than DER.
  ES256: {
    hash: 'sha256',
    fits: (key) => key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1',
    options: (key) => ({ key, dsaEncoding: 'ieee-p1363' }),
  },
  // RFC 8037 3.1: Ed25519 hashes inside; node:crypto takes no digest for it.
  EdDSA: { hash: null, fits: (key) => key.asymmetricKeyType === 'ed25519', options: (key) => key },
  RS256: { hash: 'sha256', fits: rsaFits, options: (key) => key },
  // RFC 7518 3.5: MGF1 with SHA-256 and a salt as long as the hash.
  PS256: {
    hash: 'sha256',
    fits: rsaFits,
    options: (key) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
  },
};

/** What the keystore holds: jose's import result. */
type PrivateKey = CryptoKey | JoseKeyObject;

/** A CryptoKey becomes a KeyObject once, not on every token. */
const keyObjects = new WeakMap<object, KeyObject>();
function keyObject(key: PrivateKey): KeyObject {
  if (key instanceof KeyObject) return key;
  let converted = keyObjects.get(key);
  if (!converted) {
    converted = KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
    keyObjects.set(key, converted);
  }
  return converted;
}

const encode = (value: object) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** `base64url(header).base64url(payload).base64url(signature)`; header.alg names the algorithm. */
export function signCompactJws(
  header: { alg: string; kid: string; typ: string },
  payload: object,
  privateKey: PrivateKey,
): Promise<string> {
  const algorithm = Object.hasOwn(ALGORITHMS, header.alg) ? ALGORITHMS[header.alg] : undefined;
  if (!algorithm) return Promise.reject(new Error(`cannot sign with alg ${header.alg}`));
  const key = keyObject(privateKey);
  if (key.type !== 'private') return Promise.reject(new Error('signing needs a private key'));
  if (!algorithm.fits(key)) return Promise.reject(new Error(`the key does not fit alg ${header.alg}`));
  const signingInput = `${encode(header)}.${encode(payload)}`;
  return new Promise((resolve, reject) => {
    sign(algorithm.hash, Buffer.from(signingInput, 'ascii'), algorithm.options(key), (error, signature) => {
      if (error) reject(error);
      else resolve(`${signingInput}.${signature.toString('base64url')}`);
    });
  });
}
