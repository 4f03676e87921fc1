// Each test file (one process) gets its own database: on PostgreSQL a clone of a
// migrated template, otherwise an embedded PGlite directory of its own, copied from a
// migrated template directory (a fresh PGlite directory costs an initdb of seconds).
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Database } from '../../src/db/database.js';

const TEMPLATE = 'tessera_test_template';
let cached: Promise<Record<string, string>> | undefined;

/** Environment settings that point Tessera at this file's own database. */
export function testDatabaseEnv(): Promise<Record<string, string>> {
  cached ??= create();
  return cached;
}

async function create(): Promise<Record<string, string>> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return { DATA_DIR: await embeddedCopy() };
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    // Serialize template setup across test files running in parallel.
    await admin.query('SELECT pg_advisory_lock(7246001455018199)');
    await dropStale(admin);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${TEMPLATE}`);
    const templateDb = await Database.connect({ kind: 'postgres', url: withDatabase(url, TEMPLATE) }, { poolSize: 1 });
    await templateDb.migrate();
    await templateDb.close();
    const name = `tessera_t_${process.pid}_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
    await admin.query('SELECT pg_advisory_unlock(7246001455018199)');
    // Files the app writes (mail as .eml without SMTP_URL) go to a folder of this file's own.
    return { DATABASE_URL: withDatabase(url, name), DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-test-')) };
  } finally {
    await admin.end();
  }
}

/** Drops the databases of earlier test processes that are gone. */
async function dropStale(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE 'tessera\\_t\\_%'`,
  );
  for (const { datname } of rows) {
    const pid = Number(datname.split('_')[2]);
    let alive: boolean;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (!alive) await admin.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => undefined);
  }
}

export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * A new PGlite directory holding the migrated schema: a copy of a template made once per
 * version of the migrations (their contents hashed, so an edited migration makes a new
 * one). Test files starting together may each build it; the first rename wins.
 */
async function embeddedCopy(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_DIR).sort())
    hash.update(file).update(readFileSync(join(MIGRATIONS_DIR, file)));
  const template = join(tmpdir(), `tessera-pglite-template-${hash.digest('hex').slice(0, 16)}`);
  if (!existsSync(join(template, 'PG_VERSION'))) {
    const building = mkdtempSync(join(tmpdir(), 'tessera-pglite-building-'));
    const db = await Database.connect({ kind: 'pglite', dataDir: building });
    await db.migrate();
    await db.close();
    try {
      renameSync(building, template);
    } catch {
      rmSync(building, { recursive: true, force: true }); // another file's template won
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  cpSync(template, dir, { recursive: true });
  return dir;
}
