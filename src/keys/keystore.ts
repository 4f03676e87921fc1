// Holds the signing keys in memory: the current key per purpose (decrypted), public
// keys for verification, and the published JWKS body with its ETag.
import { createHash } from 'node:crypto';
import { importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Database } from '../db/database.js';
import { currentKey, isTrusted, publishedKeys, type KeyPurpose } from '../domain/keys/key-states.js';
import { listLiveKeys, type StoredKey } from '../db/repositories/signing-keys.js';

type Key = CryptoKey | KeyObject;

interface LoadedKey {
  record: StoredKey;
  publicKey: Key;
}

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: Key;
}

export interface Jwks {
  body: string;
  etag: string;
}

async function importAsymmetric(jwk: JWK, alg: string): Promise<Key> {
  const key = await importJWK(jwk, alg);
  if (key instanceof Uint8Array) throw new Error('symmetric key where an asymmetric one belongs');
  return key;
}

export const privateKeyAad = (purpose: KeyPurpose, kid: string) => `tessera:signing-key:${purpose}:${kid}`;

export class Keystore {
  private keys = new Map<string, LoadedKey>();
  private signing = new Map<KeyPurpose, SigningKey>();
  private jwksCache: Jwks = { body: '{"keys":[]}', etag: '"empty"' };

  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
  ) {}

  /** Reads keys from the database and rebuilds what is served and signed with. */
  async reload(now = new Date()): Promise<void> {
    const records = await listLiveKeys(this.db);
    const keys = new Map<string, LoadedKey>();
    for (const record of records) {
      const existing = this.keys.get(record.kid);
      const publicKey =
        existing?.record.alg === record.alg ? existing.publicKey : await importAsymmetric(record.publicJwk, record.alg);
      keys.set(record.kid, { record, publicKey });
    }
    const signing = new Map<KeyPurpose, SigningKey>();
    for (const purpose of ['access', 'refresh'] as const) {
      const current = currentKey(records, purpose);
      if (!current) continue;
      const cached = this.signing.get(purpose);
      if (cached?.kid === current.kid) {
        signing.set(purpose, cached);
        continue;
      }
      const stored = records.find((r) => r.kid === current.kid)!;
      const privateJwk = JSON.parse(
        this.box.open(stored.privateKeyEnc, privateKeyAad(purpose, stored.kid)).toString('utf8'),
      ) as JWK;
      signing.set(purpose, {
        kid: stored.kid,
        alg: stored.alg,
        privateKey: await importAsymmetric(privateJwk, stored.alg),
      });
    }
    this.keys = keys;
    this.signing = signing;
    const body = JSON.stringify({ keys: publishedKeys(records, now).map((k) => (k as StoredKey).publicJwk) });
    this.jwksCache = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
  }

  signingKey(purpose: KeyPurpose): SigningKey {
    const key = this.signing.get(purpose);
    if (!key) throw new Error(`no current ${purpose} signing key loaded`);
    return key;
  }

  /** The public key for kid if it is trusted for this purpose right now. */
  verificationKey(purpose: KeyPurpose, kid: string, now = new Date()): { key: Key; alg: string } | undefined {
    const loaded = this.keys.get(kid);
    if (!loaded || loaded.record.purpose !== purpose || !isTrusted(loaded.record, now)) return undefined;
    return { key: loaded.publicKey, alg: loaded.record.alg };
  }

  jwks(): Jwks {
    return this.jwksCache;
  }

  isReady(): boolean {
    return this.signing.has('access') && this.signing.has('refresh');
  }
}
