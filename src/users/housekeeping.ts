// What the account life cycle leaves behind and housekeeping removes: spent and expired
// link tokens, and accounts registered under verification whose owner never followed
// the link within UNVERIFIED_ACCOUNT_TTL.
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { pruneAccountTokens } from '../db/repositories/account-tokens.js';
import { deleteExpiredUnverified } from '../db/repositories/users.js';
import { recordSecurityEvent } from '../audit/audit-log.js';

export async function pruneAccountState(db: Database, config: Pick<Config, 'accounts'>): Promise<void> {
  if (config.accounts.emailVerification === 'required') {
    await db.transaction(async (tx) => {
      const deleted = await deleteExpiredUnverified(tx, config.accounts.unverifiedTtl);
      for (const id of deleted)
        await recordSecurityEvent(tx, { type: 'unverified_account_deleted', userId: id, actor: null, detail: {} });
    });
  }
  await pruneAccountTokens(db);
}
