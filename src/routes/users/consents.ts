// Self-service consents (ASVS 10.7.3): the third-party clients a user allowed, and
// withdrawing one. Only the caller's own consents are reachable; another user's and none
// look the same (404).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { listOwnConsents, withdrawConsent } from '../../users/consents.js';
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
      const consents = await listOwnConsents(app.db, request.principal!.user.id);
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
