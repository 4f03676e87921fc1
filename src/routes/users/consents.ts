// Self-service consents (ASVS 10.7.3): the third-party clients a user allowed, and
// withdrawing one. Only the caller's own consents are reachable; another user's and none
// look the same (404).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Database } from '../../db/database.js';
import { expireUserClientCodes } from '../../db/repositories/authorization-codes.js';
import { deleteConsent, listConsents } from '../../db/repositories/consents.js';
import { endSession, listLiveSessions, lockUserSessions } from '../../db/repositories/sessions.js';
import { recordSecurityEvent } from '../../audit/audit-log.js';
import { TesseraError } from '../../errors/errors.js';
import { errors } from '../../schemas.js';

const Consent = Type.Object(
  {
    client_id: Type.String(),
    client_name: Type.String(),
    scopes: Type.Array(Type.String()),
    granted_at: Type.String({
      format: 'date-time',
      description: 'When the consent was given, or last widened to more scopes',
    }),
  },
  { additionalProperties: false },
);
// The shape client ids have (as in the admin API); anything else names no client.
const ClientIdParams = Type.Object(
  { client_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', maxLength: 64 }) },
  { additionalProperties: false },
);
const user = { policy: { user: true as const } };
const bearer = [{ bearer: [] }];

/**
 * Deletes the consent and, in the same transaction, ends the user's sessions of that client
 * (each with a session_ended event, listed in /oauth/revoked): the client loses its refresh
 * tokens at once and the next authorization asks again. False when there was no consent.
 */
async function withdrawConsent(db: Database, p: { userId: string; clientId: string; ip: string }): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Waits for a code exchange of this user that is opening a session now, so it is seen below.
    await lockUserSessions(tx, p.userId);
    const scopes = await deleteConsent(tx, p.userId, p.clientId);
    if (!scopes) return false;
    // A code issued before the withdrawal and not yet exchanged opens nothing afterwards.
    await expireUserClientCodes(tx, p.userId, p.clientId);
    const sessions = (await listLiveSessions(tx, p.userId)).filter((s) => s.client_id === p.clientId);
    let ended = 0;
    for (const s of sessions) {
      if (!(await endSession(tx, { sessionId: s.id, userId: p.userId, reason: 'consent_withdrawn' }))) continue;
      ended += 1;
      await recordSecurityEvent(tx, {
        type: 'session_ended',
        userId: p.userId,
        sessionId: s.id,
        ip: p.ip,
        detail: { by: p.userId, client_id: p.clientId },
      });
    }
    await recordSecurityEvent(tx, {
      type: 'consent_withdrawn',
      userId: p.userId,
      ip: p.ip,
      detail: { client_id: p.clientId, scope: scopes.join(' '), sessions_ended: ended },
    });
    return true;
  });
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/me/consents',
    {
      config: user,
      schema: {
        operationId: 'listOwnConsents',
        summary: 'The third-party clients one has allowed, with the scopes given',
        tags: ['users'],
        security: bearer,
        response: { 200: Type.Object({ consents: Type.Array(Consent) }), ...errors(401, 429) },
      },
    },
    async (request) => {
      const consents = await listConsents(app.db, request.principal!.user.id);
      return {
        consents: consents.map((c) => ({
          client_id: c.client_id,
          client_name: c.client_name,
          scopes: c.scopes,
          granted_at: new Date(c.granted_at).toISOString(),
        })),
      };
    },
  );

  app.delete(
    '/me/consents/:client_id',
    {
      config: user,
      schema: {
        operationId: 'withdrawOwnConsent',
        summary: 'Withdraw a consent; ends own sessions of that client',
        description:
          "Ends the caller's sessions of that client (their refresh tokens are refused, their sids listed in " +
          'GET /oauth/revoked); the next authorization by that client shows the consent page again. ' +
          'No consent (or one of another user) is 404.',
        tags: ['users'],
        security: bearer,
        params: ClientIdParams,
        response: { 204: Type.Null(), ...errors(400, 401, 404, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const withdrawn = await withdrawConsent(app.db, {
        userId: request.principal!.user.id,
        clientId: request.params.client_id,
        ip: request.ip,
      });
      if (!withdrawn) throw new TesseraError('not_found');
      return reply.code(204).send(undefined as never);
    },
  );
};

export default routes;
