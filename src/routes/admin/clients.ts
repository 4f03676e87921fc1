// Clients for admins: registration (the metadata of contract section 6), listing, reading,
// changing, disabling, deleting and secret rotation (contract section 7). A confidential
// client's secret is shown once, in the answer that made it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { Text, errors } from '../../schemas.js';
import { clientView, registerClient } from '../../clients/clients.js';
import {
  deleteClient,
  findClients,
  getClient,
  rotateClientSecret,
  updateClient,
  type ClientActor,
} from '../../clients/manage-clients.js';
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

const Timestamp = Type.String({ format: 'date-time' });
const clientViewProperties = {
  client_id: Type.String(),
  name: Type.String(),
  type: ClientType,
  grant_types: Type.Array(Type.String()),
  redirect_uris: Type.Array(Type.String()),
  post_logout_redirect_uris: Type.Array(Type.String()),
  scopes: Type.Array(Type.String()),
  first_party: Type.Boolean(),
  can_introspect: Type.Boolean(),
  require_pkce: Type.Boolean(),
  created_at: Timestamp,
  disabled: Type.Boolean(),
  updated_at: Timestamp,
  secret_rotated_at: Type.Union([Timestamp, Type.Null()]),
  previous_secret_expires_at: Type.Union([Timestamp, Type.Null()], {
    description: 'until when the secret before the last rotation is accepted; null without one',
  }),
  scope: Type.String({ deprecated: true, description: 'scopes as one space-separated string' }),
  introspect: Type.Boolean({ deprecated: true, description: 'the same as can_introspect' }),
};

const ClientView = Type.Object(clientViewProperties, { additionalProperties: false });

const ClientCreated = Type.Object(
  {
    ...clientViewProperties,
    client_secret: Type.Optional(Type.String({ description: 'confidential clients only; shown in this answer only' })),
  },
  { additionalProperties: false },
);

const ClientWithNewSecret = Type.Object(
  { ...clientViewProperties, client_secret: Type.String({ description: 'the new secret; shown in this answer only' }) },
  { additionalProperties: false },
);

const ClientId = Type.Object(
  { id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', maxLength: 64 }) },
  { additionalProperties: false },
);

// Only these are writable; type, rights, secrets and times are refused, not ignored.
const ClientChangeBody = Type.Object(
  {
    name: Type.Optional(Text({ minLength: 1, maxLength: CLIENT_LIMITS.name })),
    scopes: Type.Optional(
      Type.Array(Text({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: CLIENT_LIMITS.scopes }),
    ),
    grant_types: Type.Optional(Type.Array(GrantType, { minItems: 1, maxItems: CLIENT_GRANT_TYPES.length })),
    redirect_uris: Type.Optional(RedirectUris('replaces the list; the same rules as at registration')),
    post_logout_redirect_uris: Type.Optional(RedirectUris('replaces the list; the same rules as at registration')),
    disabled: Type.Optional(
      Type.Boolean({
        description: "true ends the client's sessions and revokes its tokens at once; false enables it again",
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

const bearer = [{ bearer: [] }];
const manage = { policy: { permission: 'clients:manage' as const } };
/** Creating a client and rotating its secret need a recent login (step-up). */
const manageStepUp = { policy: { permission: 'clients:manage' as const, stepUp: 'recent' as const } };

/** The two spellings of one field: at most one of them. */
function oneOf<T>(names: [string, string], a: T | undefined, b: T | undefined): T | undefined {
  if (a !== undefined && b !== undefined)
    throw new TesseraError('invalid_request', { description: `Send ${names[0]} or ${names[1]}, not both` });
  return a ?? b;
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const settings = { production: app.config.env === 'production' };
  const actor = (request: FastifyRequest): ClientActor => ({ userId: request.principal!.user.id, ip: request.ip });

  app.get(
    '/clients',
    {
      config: manage,
      schema: {
        operationId: 'listClients',
        summary: 'List registered clients, by client_id (paged: pass next_cursor as after)',
        tags: ['admin'],
        security: bearer,
        querystring: Type.Object(
          {
            limit: Type.Optional(
              Type.String({ pattern: '^(?:[1-9]|[1-9][0-9]|100)$', description: '1 to 100, default 50' }),
            ),
            after: Type.Optional(
              Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'the next_cursor of the previous page' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            { clients: Type.Array(ClientView), next_cursor: Type.Union([Type.String(), Type.Null()]) },
            { additionalProperties: false },
          ),
          ...errors(400, 401, 403, 429),
        },
      },
    },
    async (request) => {
      const { limit, after } = request.query;
      const page = await findClients(app.db, { limit: limit ? Number(limit) : 50, ...(after ? { after } : {}) });
      return { clients: page.clients.map(clientView), next_cursor: page.next };
    },
  );

  app.get(
    '/clients/:id',
    {
      config: manage,
      schema: {
        operationId: 'getClient',
        summary: 'Read a client (never its secret)',
        tags: ['admin'],
        security: bearer,
        params: ClientId,
        response: { 200: ClientView, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => clientView(await getClient(app.db, request.params.id)),
  );

  app.patch(
    '/clients/:id',
    {
      config: manage,
      schema: {
        operationId: 'updateClient',
        summary:
          'Change a client (checked like a registration); disabling, or taking a scope or grant away, ends its sessions and revokes its tokens',
        tags: ['admin'],
        security: bearer,
        params: ClientId,
        body: ClientChangeBody,
        response: { 200: ClientView, ...errors(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (request) => {
      const body = request.body;
      const client = await updateClient(
        app,
        request.params.id,
        {
          name: body.name,
          scopes: body.scopes,
          grantTypes: body.grant_types,
          redirectUris: body.redirect_uris,
          postLogoutRedirectUris: body.post_logout_redirect_uris,
          disabled: body.disabled,
        },
        actor(request),
        settings,
      );
      return clientView(client);
    },
  );

  app.delete(
    '/clients/:id',
    {
      config: manage,
      schema: {
        operationId: 'deleteClient',
        summary: 'Delete a client: its sessions end, its tokens are revoked, its consents and codes go',
        tags: ['admin'],
        security: bearer,
        params: ClientId,
        response: { 204: Type.Null({ description: 'deleted' }), ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await deleteClient(app, request.params.id, actor(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/clients/:id/secret',
    {
      config: manageStepUp,
      schema: {
        operationId: 'rotateClientSecret',
        summary:
          'A new secret for a confidential client, shown only in this answer; the previous one works until previous_secret_expires_at',
        tags: ['admin'],
        security: bearer,
        params: ClientId,
        response: { 200: ClientWithNewSecret, ...errors(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const { client, secret } = await rotateClientSecret(app, request.params.id, actor(request));
      noStore(reply);
      return reply.code(200).send({ ...clientView(client), client_secret: secret });
    },
  );

  app.post(
    '/clients',
    {
      config: manageStepUp,
      schema: {
        operationId: 'createClient',
        summary: 'Register a client; the client_secret of a confidential client is shown only in this answer',
        tags: ['admin'],
        security: bearer,
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
