// Builds the long-lived parts of Tessera from a Config: database, keys, tokens, hasher.
import type { Config } from './config/config.js';
import { loadMasterKey } from './crypto/master-key.js';
import { SecretBox } from './crypto/secret-box.js';
import { Database } from './db/database.js';
import { acquireEmbeddedLock, type EmbeddedLock } from './db/embedded-lock.js';
import { PasswordHasher } from './domain/passwords/password-hasher.js';
import { Keystore } from './keys/keystore.js';
import { TokenService } from './tokens/token-service.js';

export interface Services {
  config: Config;
  db: Database;
  box: SecretBox;
  keystore: Keystore;
  tokens: TokenService;
  hasher: PasswordHasher;
  close(): Promise<void>;
}

/** Connects, migrates, makes sure signing keys exist and loads them. */
export async function startServices(config: Config, options: { migrate?: boolean } = {}): Promise<Services> {
  const box = SecretBox.fromKey(loadMasterKey(config));
  const lock: EmbeddedLock | undefined = config.database.kind === 'pglite' ? acquireEmbeddedLock(config.database.dataDir) : undefined;
  let db: Database | undefined;
  try {
    db = await Database.connect(config.database);
    if (options.migrate !== false) await db.migrate();
    const keystore = new Keystore(db, box, config);
    await keystore.ensureKeys();
    await keystore.reload();
    const hasher = new PasswordHasher(config.argon2);
    await hasher.warm();
    const tokens = new TokenService(keystore, config);
    const database = db;
    return {
      config,
      db: database,
      box,
      keystore,
      tokens,
      hasher,
      async close() {
        await database.close();
        lock?.release();
      },
    };
  } catch (error) {
    await db?.close().catch(() => undefined);
    lock?.release();
    throw error;
  }
}
