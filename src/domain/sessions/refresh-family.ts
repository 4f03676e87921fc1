// Refresh-family decisions as pure functions. A session (family) has one live refresh
// token, named by its jti; a rotation retires it and records exactly one successor.
export type RotationOutcome =
  | { kind: 'rotated'; jti: string; issuedAt: Date } // the presented token was current
  | { kind: 'replayed'; jti: string; issuedAt: Date } // retired within grace: same successor
  | { kind: 'reuse' } // retired outside grace, or its successor was used: family ended
  | { kind: 'invalid' }; // no live session (ended, expired, idle, user disabled)

export interface RotationRow {
  current_jti: string;
  current_issued_at: Date | string;
  ended_at: Date | string | null;
}

/** Reads the single conditional UPDATE's RETURNING row (or its absence). */
export function classifyRotation(row: RotationRow | undefined, newJti: string): RotationOutcome {
  if (!row) return { kind: 'invalid' };
  if (row.ended_at !== null) return { kind: 'reuse' };
  const issuedAt = new Date(row.current_issued_at);
  if (row.current_jti === newJti) return { kind: 'rotated', jti: newJti, issuedAt };
  return { kind: 'replayed', jti: row.current_jti, issuedAt };
}

/**
 * A refresh token lives until the session's absolute end or until it sits unused for
 * the idle time, whichever comes first. Pure, so a replay within grace reproduces the
 * successor's claims exactly.
 */
export function refreshTokenExpiry(issuedAt: Date, sessionExpiresAt: Date, idleTtlSeconds: number): Date {
  const idleEnd = issuedAt.getTime() + idleTtlSeconds * 1000;
  return new Date(Math.min(idleEnd, sessionExpiresAt.getTime()));
}
