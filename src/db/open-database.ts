// Opening the configured database for one process: the embedded engine's directory is
// locked to this process first, migrations run unless asked not to, and closing
// releases the lock after the connection.
import type { Config } from '../config/config.js';
import { Database } from './database.js';
import { acquireEmbeddedLock } from './embedded-lock.js';

export interface OpenDatabase {
  db: Database;
  close(): Promise<void>;
}

export async function openDatabase(
  database: Config['database'],
  options: { migrate?: boolean } = {},
): Promise<OpenDatabase> {
  const lock = database.kind === 'pglite' ? acquireEmbeddedLock(database.dataDir) : undefined;
  let db: Database | undefined;
  try {
    db = await Database.connect(database);
    if (options.migrate !== false) await migrateDatabase(db, database);
  } catch (error) {
    await db?.close().catch(() => undefined);
    lock?.release();
    throw error;
  }
  const opened = db;
  return {
    db: opened,
    async close() {
      try {
        await opened.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/**
 * Applies pending migrations. With MIGRATION_DATABASE_URL naming another role, they run
 * on a connection of that role (the schema's owner), which then grants the runtime role
 * of `db` its data access, and is closed; otherwise on `db` itself. Returns the names of
 * the migrations applied.
 */
export async function migrateDatabase(db: Database, database: Config['database']): Promise<string[]> {
  if (database.kind !== 'postgres' || !database.migrationUrl || database.migrationUrl === database.url) {
    return db.migrate();
  }
  const runtime = await db.currentRole();
  const owner = await Database.connect({ ...database, url: database.migrationUrl }, { poolSize: 1 });
  try {
    const applied = await owner.migrate();
    if (runtime !== (await owner.currentRole())) {
      await owner.query('SELECT tessera_grant_runtime($1)', [runtime]);
    }
    return applied;
  } finally {
    await owner.close();
  }
}
