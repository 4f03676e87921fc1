// The secrets derived from the master key, loaded once where the app or a command is
// composed and handed to the parts that need them; never decorated onto the server.
import { hkdfSync } from 'node:crypto';
import type { Config } from '../config/config.js';
import { loadMasterKey, loadPreviousMasterKeys } from './master-key.js';
import { SecretBox } from './secret-box.js';

export interface Secrets {
  /** Seals and opens stored private keys. */
  box: SecretBox;
  /** A key of its own for hashing account names in the failure counters. */
  counterSecret: Buffer;
  /** A key of its own for the hosted forms' CSRF tokens. */
  formSecret: Buffer;
}

export function loadSecrets(config: Pick<Config, 'masterKey' | 'masterKeyPrevious' | 'env'>): Secrets {
  const masterKey = loadMasterKey(config);
  return {
    box: SecretBox.fromKey(masterKey, loadPreviousMasterKeys(config)),
    counterSecret: Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'tessera login failure keys', 32)),
    formSecret: Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'tessera form tokens', 32)),
  };
}
