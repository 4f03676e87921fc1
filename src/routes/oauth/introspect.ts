// POST /oauth/introspect (RFC 7662) and GET /oauth/revoked, for clients allowed to
// introspect. A token is active only if it verifies with a trusted key, its session is
// live and its user (or client) is enabled; refresh tokens are never active here.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { Text, errors } from '../../schemas.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { noStore } from '../../lib/http.js';
import { requireClient } from '../../clients/clients.js';
import type { ClientRow } from '../../db/repositories/clients.js';
import { findClient } from '../../db/repositories/clients.js';
import { endedSince, isSessionLive } from '../../db/repositories/sessions.js';
import { findUserById } from '../../db/repositories/users.js';
import { allAudiences } from '../../tokens/audiences.js';
import type { AccessClaims } from '../../tokens/token-service.js';

const Introspection = Type.Object(
  {
    active: Type.Boolean(),
    scope: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
    username: Type.Optional(Type.String()),
    token_type: Type.Optional(Type.String()),
    exp: Type.Optional(Type.Integer()),
    iat: Type.Optional(Type.Integer()),
    nbf: Type.Optional(Type.Integer()),
    sub: Type.Optional(Type.String()),
    aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    iss: Type.Optional(Type.String()),
    jti: Type.Optional(Type.String()),
    sid: Type.Optional(Type.String()),
    roles: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

const Revoked = Type.Object(
  {
    since: Type.Integer(),
    until: Type.Integer(),
    sessions: Type.Array(Type.Object({ sid: Type.String(), ended_at: Type.Integer() }, { additionalProperties: false })),
    users: Type.Array(Type.Object({ sub: Type.String(), ended_at: Type.Integer() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

const epoch = (d: Date) => Math.floor(new Date(d).getTime() / 1000);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, tokens, config } = app.services;
  const audiences = allAudiences(config);

  const introspector = async (client: ClientRow) => {
    if (!client.can_introspect) throw new TesseraError('unauthorized_client', { status: 403, detail: 'client may not introspect' });
  };

  async function activeClaims(token: string): Promise<(AccessClaims & { username?: string }) | undefined> {
    let claims: AccessClaims;
    try {
      claims = await tokens.verifyAccessToken(token, audiences);
    } catch {
      return undefined;
    }
    if (typeof claims.sid === 'string') {
      if (!(await isSessionLive(db, claims.sid, claims.sub))) return undefined;
      const user = await findUserById(db, claims.sub);
      if (!user || user.disabled) return undefined;
      return { ...claims, username: user.email };
    }
    const client = await findClient(db, claims.client_id);
    if (!client || client.disabled || claims.sub !== client.id) return undefined;
    return claims;
  }

  app.post(
    '/introspect',
    {
      config: { policy: { client: true }, rateLimit: { max: config.rateLimits.token, timeWindow: ONE_MINUTE } },
      schema: {
        summary: 'Token introspection (RFC 7662), for clients allowed to introspect',
        tags: ['oauth'],
        consumes: ['application/x-www-form-urlencoded'],
        body: Type.Object(
          {
            token: Text({ minLength: 1 }),
            token_type_hint: Type.Optional(Text({ maxLength: 64 })),
            client_id: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
            client_secret: Type.Optional(Text({ minLength: 1, maxLength: 512 })),
          },
          { additionalProperties: Text() },
        ),
        response: { 200: Introspection, ...errors(400, 401, 403, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      await introspector(await requireClient(request, db, request.body));
      const claims = await activeClaims(request.body.token);
      if (!claims) return { active: false };
      return {
        active: true,
        scope: claims.scope,
        client_id: claims.client_id,
        ...(claims.username ? { username: claims.username } : {}),
        token_type: 'Bearer',
        exp: claims.exp!,
        iat: claims.iat!,
        ...(claims.nbf !== undefined ? { nbf: claims.nbf } : {}),
        sub: claims.sub,
        aud: claims.aud!,
        iss: claims.iss!,
        jti: claims.jti,
        ...(claims.sid ? { sid: claims.sid } : {}),
        ...(claims.roles ? { roles: claims.roles } : {}),
      };
    },
  );

  app.get(
    '/revoked',
    {
      config: { policy: { client: true }, rateLimit: { max: config.rateLimits.token, timeWindow: ONE_MINUTE } },
      schema: {
        summary: 'Sessions and users ended since a unix time (within the access token lifetime), for verifiers',
        tags: ['oauth'],
        querystring: Type.Object({ since: Type.String({ pattern: '^[0-9]{1,12}$' }) }, { additionalProperties: false }),
        response: { 200: Revoked, ...errors(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      await introspector(await requireClient(request, db));
      // Older than any live access token is of no use: clamp to the token lifetime.
      const now = Math.floor(Date.now() / 1000);
      const floor = now - config.accessTokenTtl - 60;
      // A time in the future means now: 12 digits of seconds would overflow the database's timestamps.
      const since = Math.min(Math.max(Number(request.query.since), floor), now);
      const ended = await endedSince(db, new Date(since * 1000));
      return {
        since,
        until: epoch(ended.until),
        sessions: ended.sessions.map((s) => ({ sid: s.sid, ended_at: epoch(s.ended_at) })),
        users: ended.users.map((u) => ({ sub: u.sub, ended_at: epoch(u.ended_at) })),
      };
    },
  );
};

export default routes;
