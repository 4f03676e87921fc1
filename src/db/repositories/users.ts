// The one place that reads and writes users. Every lookup refuses an absent key
// outright, so an undefined id or email can never match some row.
import type { Queryable } from '../database.js';
import type { Role } from '../../domain/roles/permissions.js';

export type { Role };

export interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  roles: Role[];
  disabled: boolean;
  created_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** Emails are trimmed and lower-cased before they are stored or looked up. */
export function normalizeEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
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

/** Inserts a user; undefined when the email is taken (no error, no second query). */
export async function insertUser(db: Queryable, u: { email: string; passwordHash: string; roles: Role[] }): Promise<UserRow | undefined> {
  const rows = await db.query<UserRow>(
    `INSERT INTO users (email, password_hash, roles) VALUES ($1, $2, $3::text[])
     ON CONFLICT (email) DO NOTHING RETURNING *`,
    [normalizeEmail(u.email), u.passwordHash, u.roles],
  );
  return rows[0];
}

export async function updatePasswordHash(db: Queryable, id: string, oldHash: string, newHash: string): Promise<void> {
  if (!isUuid(id)) return;
  // Only replaces the hash it rehashed, so a concurrent password change wins.
  await db.query('UPDATE users SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2', [id, oldHash, newHash]);
}
