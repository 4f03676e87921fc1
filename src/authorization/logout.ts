// RP-Initiated Logout 1.0: which client asks, where the browser may be sent afterwards
// (only a post_logout_redirect_uri registered for that client, exactly), and ending the
// browser session with every token session opened from it.
import type { Queryable } from '../db/database.js';
import { findClient, type ClientRow } from '../db/repositories/clients.js';
import { endBrowserSession, type BrowserSessionRow } from '../db/repositories/browser-sessions.js';
import { endSession, findSessionClient } from '../db/repositories/sessions.js';
import { redirectWith } from '../domain/oauth/authorization-request.js';
import type { TokenService } from '../tokens/token-service.js';
import { recordSecurityEvent } from '../audit/audit-log.js';

export interface LogoutRequest {
  id_token_hint?: string | undefined;
  post_logout_redirect_uri?: string | undefined;
  state?: string | undefined;
  client_id?: string | undefined;
}

export type LogoutPlan =
  | { kind: 'error'; description: string }
  /** A valid hint for the browser's own user (or no browser session): log out now. */
  | { kind: 'now'; client: ClientRow | undefined; hintSessionId: string | undefined; redirect: string | undefined }
  /** Ask first: no valid hint, or a hint for another user than the browser's. */
  | { kind: 'confirm'; client: ClientRow | undefined; redirectUri: string | undefined; state: string | undefined };

export async function planLogout(
  deps: { db: Queryable; tokens: TokenService },
  r: LogoutRequest,
  session: BrowserSessionRow | undefined,
): Promise<LogoutPlan> {
  const hint = r.id_token_hint
    ? await deps.tokens.verifyIdTokenHint(r.id_token_hint).catch(() => undefined)
    : undefined;
  // The client: named by the hint's audience, or by client_id; both must agree.
  const clientId = r.client_id ?? hint?.aud[0];
  if (hint && r.client_id !== undefined && !hint.aud.includes(r.client_id))
    return { kind: 'error', description: 'The client_id does not match the id_token_hint' };
  const client = clientId ? await findClient(deps.db, clientId) : undefined;
  if (clientId && (!client || client.disabled)) return { kind: 'error', description: 'The client is unknown' };

  let redirectUri: string | undefined;
  if (r.post_logout_redirect_uri !== undefined) {
    if (!client) return { kind: 'error', description: 'post_logout_redirect_uri needs id_token_hint or client_id' };
    if (!client.post_logout_redirect_uris.includes(r.post_logout_redirect_uri))
      return { kind: 'error', description: 'The post_logout_redirect_uri is not registered for this client' };
    redirectUri = r.post_logout_redirect_uri;
  }
  const redirect = redirectUri ? redirectWith(redirectUri, { state: r.state }) : undefined;
  if (hint && (!session || session.user_id === hint.sub))
    return { kind: 'now', client, hintSessionId: hint.sid, redirect };
  return { kind: 'confirm', client, redirectUri, state: r.state };
}

/** Ends the browser session and its token sessions, and the hint's own session if it outlived it. */
export async function logOut(
  db: Queryable,
  p: { session: BrowserSessionRow | undefined; hintSessionId?: string | undefined; ip: string },
): Promise<void> {
  let userId = p.session?.user_id;
  let ended = 0;
  if (p.session) {
    const result = await endBrowserSession(db, { id: p.session.id, reason: 'logout' });
    ended += result.sessions.length;
  }
  if (p.hintSessionId) {
    const owner = await findSessionClient(db, p.hintSessionId);
    if (owner && !owner.ended_at && (!userId || owner.user_id === userId)) {
      if (await endSession(db, { sessionId: p.hintSessionId, userId: owner.user_id, reason: 'logout' })) ended += 1;
      userId ??= owner.user_id;
    }
  }
  if (userId) {
    await recordSecurityEvent(db, {
      type: 'logout',
      userId,
      actor: userId,
      ip: p.ip,
      detail: { sessions_ended: ended, ...(p.session ? { browser_session: p.session.id } : {}) },
    });
  }
}
