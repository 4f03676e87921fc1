// `tessera audit verify` run for real, as a child process: an untouched log verifies
// (exit 0); one row changed by SQL makes it exit 1 with one line naming that event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.js';
import { Database } from '../../src/db/database.js';
import { acquireEmbeddedLock } from '../../src/db/embedded-lock.js';
import { startServices } from '../../src/services.js';
import { recordSecurityEvent } from '../../src/db/repositories/security-events.js';
import { TEST_MASTER_KEY } from '../helpers/build.js';
import { testDatabaseEnv } from '../helpers/database.js';
import { tamper } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = `import('./src/cli.ts').then(async (m) => process.exit(await m.main(process.argv.slice(1))));`;

async function env(): Promise<Record<string, string>> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), NODE_ENV: 'test', LOG_LEVEL: 'silent', MASTER_KEY: TEST_MASTER_KEY, ISSUER: 'http://localhost:3000', ...(await testDatabaseEnv()) };
}

async function tessera(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', ENTRY, '--', ...args], { cwd: ROOT, env: await env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { code, stdout, stderr };
}

/** Opens the database the way the CLI does (embedded lock included), runs fn, closes it. */
async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const config = loadConfig(await env());
  const lock = config.database.kind === 'pglite' ? acquireEmbeddedLock(config.database.dataDir) : undefined;
  const db = await Database.connect(config.database, { poolSize: 1 });
  try {
    return await fn(db);
  } finally {
    await db.close();
    lock?.release();
  }
}

test('tessera audit verify', async (t) => {
  // A log with some history: first keys, a few failures, a transaction's events.
  const services = await startServices(loadConfig(await env()), { keySync: false });
  try {
    for (let i = 0; i < 5; i++) await recordSecurityEvent(services.db, { type: 'login_failure', ip: '192.0.2.1', detail: { i } });
    await services.keys.rotate('access');
  } finally {
    await services.close();
  }

  await t.test('an untouched log verifies: exit 0, a summary on stdout', async () => {
    const result = await tessera(['audit', 'verify']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const summary = JSON.parse(result.stdout) as { ok: boolean; events: number; head: { id: number; hash: string } };
    assert.equal(summary.ok, true);
    assert.ok(summary.events >= 9, `events: ${summary.events}`);
    assert.match(summary.head.hash, /^[0-9a-f]{64}$/);
  });

  const victim = await withDb(async (db) => Number((await db.query<{ id: number }>(`SELECT id FROM security_events WHERE type = 'login_failure' ORDER BY id OFFSET 2 LIMIT 1`))[0]!.id));

  await t.test('one row changed by SQL: exit 1, one line naming that event', async () => {
    await withDb((db) => tamper(db, `UPDATE security_events SET ip = '203.0.113.66' WHERE id = $1`, [victim]));
    const result = await tessera(['audit', 'verify']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const lines = result.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, result.stderr);
    assert.equal(lines[0], `tessera: audit log broken at event ${victim}: its content does not match its hash (the event was changed)`);
  });

  await t.test('the hash recomputed too: the next event is named, its link broken', async () => {
    await withDb((db) => tamper(db, `UPDATE security_events e SET hash = security_event_hash(e) WHERE id = $1`, [victim]));
    const result = await tessera(['audit', 'verify']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^tessera: audit log broken at event ${victim + 1}: its link to event ${victim} is broken`));
  });

  await t.test('usage errors exit 2', async () => {
    assert.equal((await tessera(['audit'])).code, 2);
    assert.equal((await tessera(['audit', 'verify', '--fix'])).code, 2);
    assert.equal((await tessera(['audit', 'prune', '--days', 'zero'])).code, 2);
  });
});
