// The one place that reads and writes users. Every lookup refuses an absent key
// outright, so an undefined id or email can never match some row.
import type { Queryable } from '../database.js';
import type { Role } from '../../domain/roles/permissions.js';
import { isUuid } from '../../domain/identifiers.js';
import { normalizeEmail } from '../../domain/users/email.js';

export type { Role };

export interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  roles: Role[];
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
  email_verified_at: Date | null;
}

export async function findUserByEmail(db: Queryable, email: string): Promise<UserRow | undefined> {
  // A NUL byte can never be stored, and PostgreSQL refuses it in a parameter with an error.
  if (typeof email !== 'string' || email.length === 0 || email.includes('\u0000')) return undefined;
  const rows = await db.query<UserRow>('SELECT * FROM users WHERE email = $1', [normalizeEmail(email)]);
  return rows[0];
}

export async function findUserById(db: Queryable, id: string): Promise<UserRow | undefined> {
  if (!isUuid(id)) return undefined;
  const rows = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
  return rows[0];
}

/**
 * Inserts a user; undefined when the email is taken (no error, no second query). `verified`:
 * the address counts as verified from the start (created by an admin or the CLI).
 */
export async function insertUser(
  db: Queryable,
  u: { email: string; passwordHash: string; roles: Role[]; verified: boolean },
): Promise<UserRow | undefined> {
  const rows = await db.query<UserRow>(
    `INSERT INTO users (email, password_hash, roles, email_verified_at)
     VALUES ($1, $2, $3::text[], CASE WHEN $4::boolean THEN now() END)
     ON CONFLICT (email) DO NOTHING RETURNING *`,
    [normalizeEmail(u.email), u.passwordHash, u.roles, u.verified],
  );
  return rows[0];
}

/** The user with this address, row-locked for the rest of the transaction. */
export async function lockUserByEmail(db: Queryable, email: string): Promise<UserRow | undefined> {
  if (typeof email !== 'string' || email.length === 0 || email.includes('\u0000')) return undefined;
  const rows = await db.query<UserRow>('SELECT * FROM users WHERE email = $1 FOR UPDATE', [normalizeEmail(email)]);
  return rows[0];
}

/** The user, row-locked for the rest of the transaction. */
export async function lockUserById(db: Queryable, id: string): Promise<UserRow | undefined> {
  if (!isUuid(id)) return undefined;
  const rows = await db.query<UserRow>('SELECT * FROM users WHERE id = $1 FOR UPDATE', [id]);
  return rows[0];
}

/** A later registration of an unverified address: its password is the one to check at login now. */
export async function replaceUnverifiedPassword(db: Queryable, id: string, passwordHash: string): Promise<void> {
  await db.query(
    'UPDATE users SET password_hash = $2, created_at = now(), updated_at = now() WHERE id = $1 AND email_verified_at IS NULL',
    [id, passwordHash],
  );
}

/** The address is proven; with a password hash, that of the registration whose link was followed. */
export async function markEmailVerified(db: Queryable, id: string, passwordHash?: string | null): Promise<void> {
  await db.query(
    `UPDATE users SET email_verified_at = coalesce(email_verified_at, now()),
                      password_hash = coalesce($2, password_hash), updated_at = now()
      WHERE id = $1`,
    [id, passwordHash ?? null],
  );
}

/** A new, verified address; false when another account took it meanwhile. */
export async function changeEmail(db: Queryable, id: string, email: string): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    `UPDATE users SET email = $2, email_verified_at = now(), updated_at = now()
      WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $2 AND id <> $1) RETURNING id`,
    [id, normalizeEmail(email)],
  );
  return rows.length === 1;
}

/** Erases the row; sessions, browser sessions, codes, consents and tokens go with it (foreign keys). */
export async function deleteUser(db: Queryable, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const rows = await db.query<{ id: string }>('DELETE FROM users WHERE id = $1 RETURNING id', [id]);
  return rows.length === 1;
}

/**
 * Accounts registered under verification (they have a verification token) whose owner
 * never followed the link within `ttlSeconds`; returns their ids.
 */
export async function deleteExpiredUnverified(db: Queryable, ttlSeconds: number): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `DELETE FROM users u
      WHERE u.email_verified_at IS NULL AND u.created_at < now() - make_interval(secs => $1)
        AND EXISTS (SELECT 1 FROM account_tokens t WHERE t.user_id = u.id AND t.purpose = 'verify_email')
      RETURNING u.id`,
    [ttlSeconds],
  );
  return rows.map((r) => r.id);
}

export async function updatePasswordHash(db: Queryable, id: string, oldHash: string, newHash: string): Promise<void> {
  if (!isUuid(id)) return;
  // Only replaces the hash it rehashed, so a concurrent password change wins.
  await db.query('UPDATE users SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2', [
    id,
    oldHash,
    newHash,
  ]);
}

export interface UserPage {
  users: UserRow[];
  next: string | null;
}

/** Users by email, keyset-paged: `after` is the last email of the previous page. */
export async function listUsers(
  db: Queryable,
  p: { query?: string; limit: number; after?: string },
): Promise<UserPage> {
  const pattern = p.query ? `%${p.query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
  const rows = await db.query<UserRow>(
    `SELECT * FROM users WHERE ($1::text IS NULL OR email LIKE $1) AND ($2::text IS NULL OR email > $2)
      ORDER BY email LIMIT $3`,
    [pattern, p.after ?? null, p.limit + 1],
  );
  const page = rows.slice(0, p.limit);
  return { users: page, next: rows.length > p.limit ? page[page.length - 1]!.email : null };
}

export async function updateUserFlags(
  db: Queryable,
  id: string,
  change: { roles?: Role[]; disabled?: boolean },
): Promise<UserRow | undefined> {
  if (!isUuid(id)) return undefined;
  const rows = await db.query<UserRow>(
    `UPDATE users SET roles = COALESCE($2::text[], roles), disabled = COALESCE($3::boolean, disabled), updated_at = now()
      WHERE id = $1 RETURNING *`,
    [id, change.roles ?? null, change.disabled ?? null],
  );
  return rows[0];
}

/** Records that every session of the user ended now (verifiers drop older tokens). */
export async function markSessionsRevoked(db: Queryable, id: string): Promise<void> {
  if (!isUuid(id)) return;
  await db.query('UPDATE users SET sessions_revoked_at = now() WHERE id = $1', [id]);
}

export async function setPasswordHash(db: Queryable, id: string, hash: string): Promise<void> {
  if (!isUuid(id)) return;
  await db.query('UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE id = $1', [
    id,
    hash,
  ]);
}

/**
 * Enabled admins other than `id`. Call it inside the transaction that demotes or disables
 * an admin: it first locks every enabled admin row (in id order, so callers never
 * deadlock), so two admins demoting each other at once cannot both count the other.
 */
export async function countOtherEnabledAdmins(db: Queryable, id: string): Promise<number> {
  await db.query(`SELECT id FROM users WHERE 'admin' = ANY(roles) AND NOT disabled ORDER BY id FOR UPDATE`);
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM users WHERE id <> $1 AND NOT disabled AND 'admin' = ANY(roles)`,
    [id],
  );
  return row?.n ?? 0;
}
