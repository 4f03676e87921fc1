// Client registration for admins: the metadata of contract section 6; a confidential
// client's secret is shown once, in this answer.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { Text, errors } from '../../schemas.js';
import { clientView, registerClient } from '../../clients/clients.js';
import { CLIENT_GRANT_TYPES, CLIENT_LIMITS } from '../../domain/clients/client-metadata.js';
import { TesseraError } from '../../errors/errors.js';
import { noStore } from '../../lib/http.js';

const ClientType = Type.Union([Type.Literal('confidential'), Type.Literal('public')]);
const GrantType = Type.Union(CLIENT_GRANT_TYPES.map((g) => Type.Literal(g)));
const RedirectUris = (description: string) =>
  Type.Array(Text({ minLength: 1, maxLength: CLIENT_LIMITS.uri }), { maxItems: CLIENT_LIMITS.uris, description });

const NewClientBody = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: CLIENT_LIMITS.name }),
    type: Type.Optional(ClientType),
    grant_types: Type.Optional(
      Type.Array(GrantType, {
        minItems: 1,
        maxItems: CLIENT_GRANT_TYPES.length,
        description:
          'default: ["authorization_code", "refresh_token"] with redirect_uris or for a public client, else ["client_credentials"]',
      }),
    ),
    redirect_uris: Type.Optional(
      RedirectUris(
        'matched exactly; https, http to 127.0.0.1, [::1] or localhost (any http host outside production), or a private-use scheme such as com.example.app:/callback; no fragment, user info or wildcard',
      ),
    ),
    post_logout_redirect_uris: Type.Optional(RedirectUris('for RP-initiated logout; the same rules as redirect_uris')),
    scopes: Type.Optional(
      Type.Array(Text({ minLength: 1, maxLength: 128 }), {
        maxItems: CLIENT_LIMITS.scopes,
        description: 'the scopes the client may ask for (openid, profile, email, offline_access included)',
      }),
    ),
    scope: Type.Optional(
      Text({
        minLength: 1,
        maxLength: 1024,
        deprecated: true,
        description: 'the scopes as one space-separated string; send scopes or scope, not both',
      }),
    ),
    first_party: Type.Optional(Type.Boolean({ description: "one of Tessera's own apps: no consent page" })),
    can_introspect: Type.Optional(
      Type.Boolean({ description: 'may call /oauth/introspect and /oauth/revoked (confidential clients only)' }),
    ),
    introspect: Type.Optional(Type.Boolean({ deprecated: true, description: 'the same as can_introspect' })),
    require_pkce: Type.Optional(
      Type.Boolean({ description: 'default true; only a confidential client may be registered with false' }),
    ),
  },
  { additionalProperties: false },
);

const ClientCreated = Type.Object(
  {
    client_id: Type.String(),
    client_secret: Type.Optional(Type.String({ description: 'confidential clients only; shown in this answer only' })),
    name: Type.String(),
    type: ClientType,
    grant_types: Type.Array(Type.String()),
    redirect_uris: Type.Array(Type.String()),
    post_logout_redirect_uris: Type.Array(Type.String()),
    scopes: Type.Array(Type.String()),
    first_party: Type.Boolean(),
    can_introspect: Type.Boolean(),
    require_pkce: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
    scope: Type.String({ deprecated: true, description: 'scopes as one space-separated string' }),
    introspect: Type.Boolean({ deprecated: true, description: 'the same as can_introspect' }),
  },
  { additionalProperties: false },
);

/** The two spellings of one field: at most one of them. */
function oneOf<T>(names: [string, string], a: T | undefined, b: T | undefined): T | undefined {
  if (a !== undefined && b !== undefined)
    throw new TesseraError('invalid_request', { description: `Send ${names[0]} or ${names[1]}, not both` });
  return a ?? b;
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const settings = { production: app.config.env === 'production' };

  app.post(
    '/clients',
    {
      config: { policy: { permission: 'clients:manage' } },
      schema: {
        operationId: 'createClient',
        summary: 'Register a client; the client_secret of a confidential client is shown only in this answer',
        tags: ['admin'],
        security: [{ bearer: [] }],
        body: NewClientBody,
        response: { 201: ClientCreated, ...errors(400, 401, 403, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const scopes = oneOf(['scopes', 'scope'], body.scopes, body.scope?.split(' ').filter(Boolean));
      if (scopes === undefined) throw new TesseraError('invalid_request', { description: 'scopes is required' });
      const { client, secret } = await registerClient(
        app.db,
        {
          name: body.name,
          type: body.type,
          grantTypes: body.grant_types,
          redirectUris: body.redirect_uris,
          postLogoutRedirectUris: body.post_logout_redirect_uris,
          scopes,
          firstParty: body.first_party,
          canIntrospect: oneOf(['can_introspect', 'introspect'], body.can_introspect, body.introspect),
          requirePkce: body.require_pkce,
        },
        { userId: request.principal!.user.id, ip: request.ip },
        settings,
      );
      noStore(reply);
      return reply
        .code(201)
        .send({ ...clientView(client), ...(secret === undefined ? {} : { client_secret: secret }) });
    },
  );
};

export default routes;
