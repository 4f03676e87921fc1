// Signing-key states as pure functions: next (published, not signing) -> current
// (signing, exactly one per purpose) -> retired (published until every token it
// signed has expired) or revoked (gone at once).
export type KeyPurpose = 'access' | 'refresh';
export type KeyState = 'next' | 'current' | 'retired' | 'revoked';

export interface KeyRecord {
  kid: string;
  purpose: KeyPurpose;
  alg: string;
  state: KeyState;
  createdAt: Date;
  activatesAt: Date;
  retiredAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** Keys whose signatures we still accept: anything not revoked and not past its retention. */
export function isTrusted(key: KeyRecord, now: Date): boolean {
  if (key.state === 'revoked') return false;
  return !(key.state === 'retired' && key.expiresAt !== null && key.expiresAt <= now);
}

/** Keys a verifier may see: trusted access keys. Refresh keys are never published. */
export function publishedKeys(keys: readonly KeyRecord[], now: Date): KeyRecord[] {
  return keys.filter((k) => k.purpose === 'access' && isTrusted(k, now)).sort(byNewestFirst);
}

/** The one key that signs for a purpose, or undefined when none is current. */
export function currentKey(keys: readonly KeyRecord[], purpose: KeyPurpose): KeyRecord | undefined {
  const current = keys.filter((k) => k.purpose === purpose && k.state === 'current');
  if (current.length > 1) throw new Error(`invariant broken: ${current.length} current ${purpose} keys`);
  return current[0];
}

/** How long a retired key stays trusted: until every token it signed has expired. */
export function retentionSeconds(purpose: KeyPurpose, ttl: { accessTokenTtl: number; refreshTokenTtl: number }): number {
  return purpose === 'access' ? ttl.accessTokenTtl : ttl.refreshTokenTtl;
}

function byNewestFirst(a: KeyRecord, b: KeyRecord): number {
  return b.createdAt.getTime() - a.createdAt.getTime();
}
