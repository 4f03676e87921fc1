// POST /oauth/revoke (RFC 7009). Revoking a refresh token, or a user's access token,
// ends its whole session. Unknown, expired or malformed tokens get 200 as the RFC says.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { Text, errors } from '../../schemas.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { noStore } from '../../lib/http.js';
import { authenticateClient, clientCredentials } from '../../clients/clients.js';
import { endSession, findSessionClient } from '../../db/repositories/sessions.js';
import { isUuid } from '../../db/repositories/users.js';
import { recordSecurityEvent } from '../../db/repositories/security-events.js';
import { FIRST_PARTY_CLIENT_ID } from '../../grants/session-tokens.js';
import { allAudiences } from '../../tokens/audiences.js';
import { checkNotCrossSite, clearRefreshCookie, refreshCookie } from '../../lib/refresh-cookie.js';

const RevokeBody = Type.Object(
  {
    token: Type.Optional(Text({ minLength: 1, description: 'absent in browser mode: the refresh cookie is revoked' })),
    token_type_hint: Type.Optional(Text({ maxLength: 64 })),
    client_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
    client_secret: Type.Optional(Text({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: Text() },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, tokens, config } = app.services;
  const audiences = allAudiences(config);

  /** The session a token belongs to, if it is one of ours and still verifies. */
  async function sessionOf(token: string, hint: string | undefined): Promise<string | undefined> {
    const order = hint === 'access_token' ? (['access', 'refresh'] as const) : (['refresh', 'access'] as const);
    for (const kind of order) {
      try {
        const claims = kind === 'refresh' ? await tokens.verifyRefreshToken(token) : await tokens.verifyAccessToken(token, audiences);
        return typeof claims.sid === 'string' && isUuid(claims.sid) ? claims.sid : undefined;
      } catch {
        /* not this kind */
      }
    }
    return undefined;
  }

  app.post(
    '/revoke',
    {
      config: { policy: { client: true }, rateLimit: { max: config.rateLimits.token, timeWindow: ONE_MINUTE } },
      schema: {
        summary: 'Token revocation (RFC 7009); a refresh or user access token ends its session',
        tags: ['oauth'],
        consumes: ['application/x-www-form-urlencoded'],
        body: RevokeBody,
        response: { 200: Type.Object({}, { additionalProperties: false, description: 'empty: the token is revoked, or was not valid (RFC 7009 2.2)' }), ...errors(400, 401, 403, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const credentials = clientCredentials(request, request.body);
      const client = credentials ? await authenticateClient(db, credentials) : undefined;
      const requester = client?.id ?? request.body.client_id ?? FIRST_PARTY_CLIENT_ID;
      // Browser mode logout: the cookie names the session; refuse anything cross-site.
      const cookie = request.body.token ? undefined : refreshCookie(request);
      if (cookie) checkNotCrossSite(request, config);
      const token = request.body.token ?? cookie;
      if (!token) throw new TesseraError('invalid_request', { detail: 'token missing' });
      if (cookie) clearRefreshCookie(reply);
      const sid = await sessionOf(token, request.body.token_type_hint);
      if (sid) {
        const owner = await findSessionClient(db, sid);
        // RFC 7009 2.1: only the client the token was issued to may revoke it.
        if (owner && owner.client_id !== requester) throw new TesseraError('unauthorized_client', { detail: 'token issued to another client' });
        const ended = await endSession(db, { sessionId: sid, reason: 'revoked' });
        if (ended) await recordSecurityEvent(db, { type: 'session_ended', userId: ended.user_id, sessionId: sid, ip: request.ip, detail: { by: 'revocation' } });
      }
      return reply.code(200).send({});
    },
  );
};

export default routes;
