// What one-shot commands (the CLI) work with, without a server: the database, the
// sealing box, the key manager and the hasher. `openCore` opens them, `close()` closes
// them; no timers run and nothing is shared with a running server but the database.
import type { Config } from './config/config.js';
import { loadSecrets } from './crypto/secrets.js';
import type { SecretBox } from './crypto/secret-box.js';
import type { Database } from './db/database.js';
import { openDatabase } from './db/open-database.js';
import { BreachedPasswords } from './domain/passwords/breached.js';
import { PasswordHasher } from './domain/passwords/password-hasher.js';
import { KeyManager } from './keys/key-manager.js';
import { Keystore } from './keys/keystore.js';
import { rotationSettings } from './keys/rotation-settings.js';

export interface Core {
  config: Config;
  db: Database;
  /** Seals and opens stored secrets under MASTER_KEY (MASTER_KEY_PREVIOUS still opens). */
  box: SecretBox;
  keys: KeyManager;
  hasher: PasswordHasher;
  /** The breached-password lookup (BREACHED_PASSWORDS_URL), as the server does it; a failure is a warning on stderr. */
  breachedPasswords: BreachedPasswords;
  close(): Promise<void>;
}

export interface CoreOptions {
  /**
   * Read-only: no migrations, no first keys, no key promotion, no check that MASTER_KEY
   * opens the stored keys; for commands that only read (e.g. `keys list`, `audit verify`).
   * Default false: migrate, make sure signing keys exist, promote due ones, and open the
   * current keys once, so a wrong MASTER_KEY fails here.
   */
  readOnly?: boolean;
}

export async function openCore(config: Config, options: CoreOptions = {}): Promise<Core> {
  const { box } = loadSecrets(config);
  const opened = await openDatabase(config.database, { migrate: !options.readOnly });
  try {
    const keys = new KeyManager(opened.db, box, { signingAlg: config.signingAlg, rotation: rotationSettings(config) });
    const hasher = new PasswordHasher(config.argon2);
    if (!options.readOnly) {
      await keys.ensureKeys();
      await keys.tick();
      await new Keystore(opened.db, box).reload();
      await hasher.warm();
    }
    const breachedPasswords = new BreachedPasswords(
      { url: config.password.breachedUrl, timeoutMs: config.password.breachedTimeoutMs },
      {
        counted: () => undefined,
        failed: (reason) =>
          process.stderr.write(`warning: breached-password lookup failed (${reason}): the password is accepted\n`),
      },
    );
    return { config, db: opened.db, box, keys, hasher, breachedPasswords, close: () => opened.close() };
  } catch (error) {
    await opened.close().catch(() => undefined);
    throw error;
  }
}
