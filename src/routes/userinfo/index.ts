// GET and POST /userinfo (OIDC Core 5.3): who the bearer of an access token is, with the
// claims of the scopes it was granted. POST also takes the token in a form body (RFC 6750 2.2).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { Text, errors } from '../../schemas.js';
import { acceptFormBodiesOnly } from '../../lib/form-body.js';
import { userinfoClaims } from '../../sessions/userinfo.js';

const UserInfo = Type.Object(
  {
    sub: Type.String(),
    email: Type.Optional(Type.String()),
    email_verified: Type.Optional(Type.Boolean()),
    updated_at: Type.Optional(Type.Integer({ description: 'profile scope: seconds since the epoch' })),
    roles: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

const TokenForm = Type.Object(
  { access_token: Type.Optional(Text({ minLength: 1, maxLength: 8192 })) },
  { additionalProperties: Text({ maxLength: 8192 }) },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  acceptFormBodiesOnly(app);
  const answer = (request: FastifyRequest) => {
    const { user, claims } = request.principal!;
    return userinfoClaims(user, claims.scope);
  };

  app.get(
    '/',
    {
      schema: {
        operationId: 'getUserinfo',
        summary: 'The user behind the access token, with the claims of its scopes',
        tags: ['users'],
        security: [{ bearer: [] }],
        response: { 200: UserInfo, ...errors(401, 429) },
      },
      config: { policy: { user: true } },
    },
    async (request) => answer(request),
  );

  app.post(
    '/',
    {
      schema: {
        operationId: 'postUserinfo',
        summary: 'The same, by POST: the token in the Authorization header or the form body (RFC 6750 2.2)',
        tags: ['users'],
        security: [{ bearer: [] }],
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenForm,
        response: { 200: UserInfo, ...errors(400, 401, 415, 429) },
      },
      config: { policy: { user: true, tokenInBody: true } },
      // A POST with the token in the header only may have no body at all.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => answer(request),
  );
};

export default routes;
