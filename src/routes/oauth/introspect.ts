// POST /oauth/introspect (RFC 7662) and GET /oauth/revoked, for clients allowed to
// introspect. A token is active only if it verifies with a trusted key, its session is
// live and its user (or client) is enabled; refresh tokens are never active here.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { Text, errors } from '../../schemas.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { noStore } from '../../lib/http.js';
import { requireClient, type ClientRow } from '../../clients/clients.js';
import { activeAccessClaims, revokedSince } from '../../sessions/introspection.js';

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
    auth_time: Type.Optional(Type.Integer()),
    amr: Type.Optional(Type.Array(Type.String())),
    acr: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const Revoked = Type.Object(
  {
    since: Type.Integer(),
    until: Type.Integer(),
    sessions: Type.Array(
      Type.Object({ sid: Type.String(), ended_at: Type.Integer() }, { additionalProperties: false }),
    ),
    users: Type.Array(Type.Object({ sub: Type.String(), ended_at: Type.Integer() }, { additionalProperties: false }), {
      description: 'users whose sessions all ended (disabled, signed out everywhere) or who were erased',
    }),
    clients: Type.Array(
      Type.Object({ client_id: Type.String(), ended_at: Type.Integer() }, { additionalProperties: false }),
      { description: 'clients disabled, deleted or narrowed: refuse their tokens issued at or before ended_at' },
    ),
    jtis: Type.Array(Type.Object({ jti: Type.String(), ended_at: Type.Integer() }, { additionalProperties: false }), {
      description: 'client_credentials access tokens revoked (RFC 7009), by jti',
    }),
  },
  { additionalProperties: false },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;

  const introspector = async (client: ClientRow) => {
    if (!client.can_introspect)
      throw new TesseraError('unauthorized_client', { status: 403, detail: 'client may not introspect' });
  };

  app.post(
    '/introspect',
    {
      config: { policy: { client: true }, rateLimit: { max: config.rateLimits.token, timeWindow: ONE_MINUTE } },
      schema: {
        operationId: 'introspectToken',
        summary: 'Token introspection (RFC 7662), for clients allowed to introspect',
        tags: ['oauth'],
        security: [{ clientBasic: [] }],
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
      await introspector(await requireClient(request, app.db, request.body));
      const claims = await activeAccessClaims(app, request.body.token);
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
        // RFC 9470 4: how and when the user authenticated, for step-up decisions.
        ...(claims.auth_time !== undefined ? { auth_time: claims.auth_time } : {}),
        ...(claims.amr ? { amr: claims.amr } : {}),
        ...(claims.acr ? { acr: claims.acr } : {}),
      };
    },
  );

  app.get(
    '/revoked',
    {
      config: { policy: { client: true }, rateLimit: { max: config.rateLimits.token, timeWindow: ONE_MINUTE } },
      schema: {
        operationId: 'listRevoked',
        summary:
          'Sessions, users and clients ended and client tokens revoked since a unix time (within the access token lifetime), for verifiers',
        tags: ['oauth'],
        security: [{ clientBasic: [] }],
        querystring: Type.Object({ since: Type.String({ pattern: '^[0-9]{1,12}$' }) }, { additionalProperties: false }),
        response: { 200: Revoked, ...errors(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      await introspector(await requireClient(request, app.db));
      return revokedSince(app, Number(request.query.since));
    },
  );
};

export default routes;
