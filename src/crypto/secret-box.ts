// AES-256-GCM for secrets at rest. Each ciphertext is bound to what it protects
// (additional authenticated data), so a row copied onto another key id fails to open,
// and names the master key that sealed it, so a master key can be rotated (rewrap).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/** A short public name for a master key: a prefix of its SHA-256, not the key. */
export function masterKeyId(key: Buffer): string {
  return createHash('sha256').update('tessera-master-key-id').update(key).digest('base64url').slice(0, 11);
}

export class SecretBox {
  private readonly keys: Map<string, Buffer>;

  private constructor(
    private readonly primaryId: string,
    keys: Map<string, Buffer>,
  ) {
    this.keys = keys;
  }

  /** Seals with `primary`; opens with it or any of `previous` (during a master key rotation). */
  static fromKey(primary: Buffer, previous: Buffer[] = []): SecretBox {
    const keys = new Map<string, Buffer>();
    for (const key of [primary, ...previous]) {
      if (key.length !== 32) throw new Error('master key must be 32 bytes');
      keys.set(masterKeyId(key), Buffer.from(key));
    }
    return new SecretBox(masterKeyId(primary), keys);
  }

  get keyId(): string {
    return this.primaryId;
  }

  /** The id of the master key that sealed this value, without opening it. */
  static sealedWith(sealed: string): string | undefined {
    const parts = sealed.split('.');
    return parts.length === 4 && parts[0] === VERSION ? parts[1] : undefined;
  }

  seal(plaintext: Buffer | string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.primaryId)!, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${this.primaryId}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  open(sealed: string, aad: string): Buffer {
    const [version, keyId, ivText, bodyText, ...rest] = sealed.split('.');
    if (version !== VERSION || !keyId || !ivText || !bodyText || rest.length)
      throw new Error('unknown sealed secret format');
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`sealed with master key ${keyId}, which is not configured`);
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (iv.length !== 12 || body.length < 16) throw new Error('sealed secret is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
  }
}
