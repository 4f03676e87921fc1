// Each test file (one process) gets its own database: on PostgreSQL a clone of a
// migrated template, otherwise an embedded PGlite directory of its own.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  if (!url) return { DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-test-')) };
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
