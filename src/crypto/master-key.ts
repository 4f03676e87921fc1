// Loads the 32-byte master key from MASTER_KEY or MASTER_KEY_FILE; outside production
// a missing file is created with mode 0600 so `npm start` works with nothing set.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/config.js';

export function decodeMasterKey(text: string, variable: string): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new ConfigError(variable, 'must be 32 bytes in base64');
  const key = Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64');
  if (key.length !== 32) throw new ConfigError(variable, `must be 32 bytes in base64, got ${key.length} bytes`);
  return key;
}

/** The previous master key, still accepted for reading during a rewrap. */
export function loadPreviousMasterKeys(config: Pick<Config, 'masterKeyPrevious'>): Buffer[] {
  return config.masterKeyPrevious ? [decodeMasterKey(config.masterKeyPrevious, 'MASTER_KEY_PREVIOUS')] : [];
}

export function loadMasterKey(config: Pick<Config, 'masterKey' | 'env'>): Buffer {
  const source = config.masterKey;
  if (source.kind === 'value') return decodeMasterKey(source.value, 'MASTER_KEY');
  let text: string;
  try {
    text = readFileSync(source.path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new ConfigError('MASTER_KEY_FILE', `cannot read ${source.path}`);
    if (config.env === 'production') throw new ConfigError('MASTER_KEY_FILE', `${source.path} does not exist`);
    mkdirSync(dirname(source.path), { recursive: true, mode: 0o700 });
    text = randomBytes(32).toString('base64');
    // 'wx': never overwrite a key another process wrote a moment ago.
    try {
      writeFileSync(source.path, `${text}\n`, { mode: 0o600, flag: 'wx' });
    } catch (writeError) {
      if ((writeError as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError;
      text = readFileSync(source.path, 'utf8');
    }
  }
  const mode = statSync(source.path).mode & 0o777;
  if (mode & 0o077)
    throw new ConfigError('MASTER_KEY_FILE', `${source.path} must not be readable by group or others (chmod 600)`);
  return decodeMasterKey(text, 'MASTER_KEY_FILE');
}
