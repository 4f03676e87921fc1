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
    if (options.migrate !== false) await db.migrate();
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
