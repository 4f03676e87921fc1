// What the authorization code flow leaves behind and housekeeping removes: browser
// sessions, pending requests and codes past their lifetime.
import type { Queryable } from '../db/database.js';
import { pruneBrowserSessions } from '../db/repositories/browser-sessions.js';
import { pruneAuthorizationRequests } from '../db/repositories/authorization-requests.js';
import { pruneAuthorizationCodes } from '../db/repositories/authorization-codes.js';

export async function pruneAuthorizationState(db: Queryable): Promise<void> {
  await pruneAuthorizationCodes(db);
  await pruneAuthorizationRequests(db);
  await pruneBrowserSessions(db);
}
