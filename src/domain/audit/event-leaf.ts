// What one audit event contributes to the tree: its leaf, a canonical JSON text of every
// column (RFC 8785 style: keys sorted, no spaces, strings and numbers as JSON.stringify
// writes them), hashed as an RFC 9162 leaf. The sealer and the verifier both build it
// here, from the same columns, so a change to any column of a sealed event changes its leaf.
import { leafHash } from './merkle-tree.js';

/** An event's columns as the leaf covers them; created_at as written by LEAF_CREATED_AT. */
export interface LeafEvent {
  id: number;
  /** UTC, microseconds: `2026-12-02T05:07:27.123456Z`. */
  created_at: string;
  type: string;
  outcome: string;
  actor: string | null;
  target: string | null;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  detail: unknown;
}

/** The SQL that reads created_at in the leaf's form (a built-in, schema-qualified, never a stored function). */
export const LEAF_CREATED_AT = `pg_catalog.to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The leaf format's version, first in every leaf, so a later format can coexist. */
const LEAF_VERSION = 1;

/** JSON with object keys sorted at every depth; throws on values JSON cannot hold. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('a non-finite number has no JSON form');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`a ${typeof value} has no JSON form`);
}

export function eventLeaf(e: LeafEvent): Uint8Array {
  return Buffer.from(
    canonicalJson({
      v: LEAF_VERSION,
      id: e.id,
      created_at: e.created_at,
      type: e.type,
      outcome: e.outcome,
      actor: e.actor,
      target: e.target,
      user_id: e.user_id,
      session_id: e.session_id,
      ip: e.ip,
      user_agent: e.user_agent,
      request_id: e.request_id,
      detail: e.detail,
    }),
    'utf8',
  );
}

export const eventLeafHash = (e: LeafEvent): Uint8Array => leafHash(eventLeaf(e));
