// Helpers for the audit tests: real webhook receivers on 127.0.0.1 (a simple one, and a
// scripted one that answers each attempt as told and counts deliveries by webhook-id), a
// log capture, and raw SQL with the audit guards off, the way a tamperer would have to,
// and verifying after it.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import assert from 'node:assert/strict';
import type { Database, Queryable } from '../../src/db/database.js';
import { verifyAuditLog, type AuditReport, type SavedCheckpoint } from '../../src/audit/verify-log.js';
import { newestCheckpoint } from '../../src/audit/audit-reads.js';
import { readCheckpointDocument } from '../../src/audit/checkpoint-document.js';

export interface Received {
  at: number;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/**
 * An alert receiver. `normal` answers 204; `blackhole` accepts the connection and never
 * answers; `error` answers 500.
 */
export async function startReceiver(mode: 'normal' | 'blackhole' | 'error' = 'normal') {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { unparsable: text };
    }
    received.push({ at: Date.now(), headers: req.headers, body });
    if (mode === 'blackhole') return; // never answer
    res.writeHead(mode === 'error' ? 500 : 204).end();
  };
  const server = createServer((req, res) => {
    void answer(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path = '/alerts') => `http://127.0.0.1:${port}${path}`,
    received,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Delivery {
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  /** The body as received: what a signature covers. */
  raw: string;
  body: Record<string, unknown>;
  /** What the receiver answered: a status, or 'hang' (never answered). */
  answer: number | 'hang';
}

/**
 * What the scripted receiver answers to the nth request (from 1) with this webhook-id:
 * a status (a 3xx goes with `Location: /followed`), or 'hang' (accepted, never answered).
 */
export type Answer = (id: string, nth: number, body: Record<string, unknown>) => number | 'hang';

/** A receiver that answers as `answer` says (changeable), and counts 2xx answers per webhook-id. */
export async function startWebhookReceiver(answer: Answer = () => 204, options: { delayMs?: number } = {}) {
  const state = {
    answer,
    deliveries: [] as Delivery[],
    /** 2xx answers per webhook-id: a receiver deduping by id sees each alert once. */
    accepted: new Map<string, number>(),
    inFlight: 0,
    maxInFlight: 0,
  };
  const sockets = new Set<Socket>();
  const seen = new Map<string, number>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const id = String(req.headers['webhook-id'] ?? '');
    const nth = (seen.get(id) ?? 0) + 1;
    seen.set(id, nth);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      body = { unparsable: raw };
    }
    const decided = state.answer(id, nth, body);
    state.deliveries.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, raw, body, answer: decided });
    if (decided === 'hang') return; // the socket is cut at close
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (decided >= 200 && decided < 300) state.accepted.set(id, (state.accepted.get(id) ?? 0) + 1);
    state.inFlight--;
    res.writeHead(decided, decided >= 300 && decided < 400 ? { location: '/followed' } : {}).end();
  };
  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    port,
    url: (path = '/alerts') => `http://127.0.0.1:${port}${path}`,
    /** Requests with this webhook-id, in order. */
    of: (id: string) => state.deliveries.filter((d) => d.headers['webhook-id'] === id),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/**
 * Standard Webhooks verification written from the spec, independently of the code under
 * test: HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{raw body}` with the decoded
 * `whsec_` key, compared in constant time with each `v1,` entry of webhook-signature.
 */
export function verifyStandardWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  raw: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${raw}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** A port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every log line written, as text and parsed. */
export function captureLogs() {
  const lines: string[] = [];
  return {
    lines,
    stream: {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line) lines.push(line);
      },
    },
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** Runs SQL with the audit log's guard off, in one transaction: what tampering takes (DDL rights). */
export async function tamper(
  db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  sql: string,
  params: unknown[] = [],
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('ALTER TABLE security_events DISABLE TRIGGER security_events_guard');
    await tx.query(sql, params);
    await tx.query('ALTER TABLE security_events ENABLE TRIGGER security_events_guard');
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  // The monotonic clock: a step of the wall clock (NTP) must not cut the wait short.
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// --- the audit tree ---

const GUARDED = ['security_events', 'audit_tree', 'audit_prunes', 'audit_checkpoints', 'audit_keys'];

class RolledBack extends Error {
  constructor(readonly report: AuditReport) {
    super('rolled back');
  }
}

/** Tampers with every guard off (what DDL rights allow), verifies, and rolls it all back. */
export async function afterTampering(
  db: Database,
  saved: SavedCheckpoint | undefined,
  tamper: (tx: Queryable) => Promise<unknown>,
): Promise<AuditReport> {
  try {
    await db.transaction(async (tx) => {
      for (const table of GUARDED) await tx.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
      await tamper(tx);
      for (const table of GUARDED) await tx.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
      throw new RolledBack(await verifyAuditLog(tx, saved ? { saved } : {}));
    });
  } catch (error) {
    if (error instanceof RolledBack) return error.report;
    throw error;
  }
  throw new Error('unreachable');
}

export async function saveCheckpoint(db: Database): Promise<SavedCheckpoint> {
  const doc = await newestCheckpoint(db);
  assert.ok(doc, 'a checkpoint exists');
  // As stored outside: the JSON text, read back.
  return readCheckpointDocument(JSON.stringify(doc));
}

export const idAtLeaf = async (db: Queryable, leaf: number) =>
  Number((await db.query<{ id: string }>('SELECT id FROM security_events WHERE leaf_index = $1', [leaf]))[0]!.id);
