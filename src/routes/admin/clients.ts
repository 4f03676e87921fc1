// Client registration for admins; the secret is shown once in the answer.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { Text, errors } from '../../schemas.js';
import { registerClient } from '../../clients/clients.js';
import { noStore } from '../../lib/http.js';

export const ClientCreated = Type.Object(
  {
    client_id: Type.String(),
    client_secret: Type.String(),
    name: Type.String(),
    scope: Type.String(),
    grant_types: Type.Array(Type.String()),
    introspect: Type.Boolean(),
  },
  { additionalProperties: false },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/clients',
    {
      config: { policy: { permission: 'clients:manage' } },
      schema: {
        summary: 'Register a confidential client; client_secret is shown only in this answer',
        tags: ['admin'],
        security: [{ bearer: [] }],
        body: Type.Object(
          {
            name: Text({ minLength: 1, maxLength: 100 }),
            scope: Text({
              minLength: 1,
              maxLength: 1024,
              description: 'space-separated scopes the client may ask for',
            }),
            grant_types: Type.Optional(Type.Array(Type.Literal('client_credentials'), { maxItems: 1 })),
            introspect: Type.Optional(Type.Boolean({ description: 'may call /oauth/introspect and /oauth/revoked' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: ClientCreated, ...errors(400, 401, 403, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const { client, secret } = await registerClient(
        app.db,
        {
          name: body.name,
          scopes: body.scope.split(' ').filter(Boolean),
          grantTypes: body.grant_types ?? ['client_credentials'],
          canIntrospect: body.introspect ?? false,
        },
        { userId: request.principal!.user.id, ip: request.ip },
      );
      noStore(reply);
      return reply.code(201).send({
        client_id: client.id,
        client_secret: secret,
        name: client.name,
        scope: client.scopes.join(' '),
        grant_types: client.grant_types,
        introspect: client.can_introspect,
      });
    },
  );
};

export default routes;
