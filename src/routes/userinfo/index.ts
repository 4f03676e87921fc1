// GET /userinfo: who the bearer of an access token is.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { errors } from '../../schemas.js';

const UserInfo = Type.Object(
  { sub: Type.String(), email: Type.String(), roles: Type.Array(Type.String()) },
  { additionalProperties: false },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/',
    {
      schema: {
        summary: 'The user behind the access token',
        tags: ['users'],
        security: [{ bearer: [] }],
        response: { 200: UserInfo, ...errors(401, 429) },
      },
      config: { policy: { user: true } },
    },
    async (request) => {
      const { user } = request.principal!;
      return { sub: user.id, email: user.email, roles: user.roles };
    },
  );
};

export default routes;
