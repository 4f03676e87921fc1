// Helpers for the audit tests: a real webhook receiver on 127.0.0.1, a log capture, and
// raw SQL with the audit guards off, the way a tamperer would have to, and verifying after it.
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
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
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
