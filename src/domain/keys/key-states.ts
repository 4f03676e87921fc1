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
  activatedAt?: Date | null;
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

function byNewestFirst(a: KeyRecord, b: KeyRecord): number {
  return b.createdAt.getTime() - a.createdAt.getTime();
}

export interface RotationSettings {
  /** Seconds a new key is published before it signs (KEY_PUBLISH_AHEAD). */
  publishAhead: number;
  /** Seconds between automatic rotations; 0 is manual only (KEY_ROTATION_INTERVAL). */
  rotationInterval: number;
  /** Seconds a retired key stays trusted, per purpose. */
  retention: Record<KeyPurpose, number>;
}

export type KeyTransition =
  | { kind: 'promote'; purpose: KeyPurpose; promote: string; retire: string | null; retiredExpiresAt: Date }
  | { kind: 'create-next'; purpose: KeyPurpose; activatesAt: Date };

const PURPOSES: readonly KeyPurpose[] = ['access', 'refresh'];
const addSeconds = (d: Date, s: number) => new Date(d.getTime() + s * 1000);

/** Breaks loudly if the key set is not one the state machine can produce. */
export function checkInvariants(keys: readonly KeyRecord[]): void {
  for (const purpose of PURPOSES) {
    const current = keys.filter((k) => k.purpose === purpose && k.state === 'current').length;
    const next = keys.filter((k) => k.purpose === purpose && k.state === 'next').length;
    if (current > 1) throw new Error(`invariant broken: ${current} current ${purpose} keys`);
    if (next > 1) throw new Error(`invariant broken: ${next} next ${purpose} keys`);
  }
}

function nextKey(keys: readonly KeyRecord[], purpose: KeyPurpose): KeyRecord | undefined {
  return keys.find((k) => k.purpose === purpose && k.state === 'next');
}

/**
 * What a periodic tick should do: promote a next key whose publication time has
 * passed (retiring the current one), and start an automatic rotation when the
 * current key is older than the rotation interval and none is pending.
 */
export function planTick(keys: readonly KeyRecord[], now: Date, settings: RotationSettings): KeyTransition[] {
  checkInvariants(keys);
  const plan: KeyTransition[] = [];
  for (const purpose of PURPOSES) {
    const current = currentKey(keys, purpose);
    const next = nextKey(keys, purpose);
    if (next && next.activatesAt <= now) {
      plan.push({
        kind: 'promote',
        purpose,
        promote: next.kid,
        retire: current?.kid ?? null,
        retiredExpiresAt: addSeconds(now, settings.retention[purpose]),
      });
    } else if (!next && current && settings.rotationInterval > 0) {
      const since = current.activatedAt ?? current.activatesAt;
      if (addSeconds(since, settings.rotationInterval) <= now)
        plan.push({ kind: 'create-next', purpose, activatesAt: addSeconds(now, settings.publishAhead) });
    }
  }
  return plan;
}

/** A manual rotation: a next key published now, signing after publishAhead; one pending at a time. */
export function planRotation(
  keys: readonly KeyRecord[],
  purpose: KeyPurpose,
  now: Date,
  settings: RotationSettings,
): KeyTransition | undefined {
  checkInvariants(keys);
  if (nextKey(keys, purpose)) return undefined;
  return { kind: 'create-next', purpose, activatesAt: addSeconds(now, settings.publishAhead) };
}

export type RevocationPlan =
  | { kind: 'unknown' }
  | { kind: 'already-revoked' }
  /** Revoke; if the key was signing, promote the pending next key, or a fresh one at once. */
  | { kind: 'revoke'; purpose: KeyPurpose; wasCurrent: boolean; promote: string | null };

export function planRevocation(keys: readonly KeyRecord[], kid: string): RevocationPlan {
  checkInvariants(keys);
  const key = keys.find((k) => k.kid === kid);
  if (!key) return { kind: 'unknown' };
  if (key.state === 'revoked') return { kind: 'already-revoked' };
  const wasCurrent = key.state === 'current';
  return {
    kind: 'revoke',
    purpose: key.purpose,
    wasCurrent,
    promote: wasCurrent ? (nextKey(keys, key.purpose)?.kid ?? null) : null,
  };
}
