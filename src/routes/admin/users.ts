// User administration: list and search (admins and moderators), change roles and the
// disabled flag, end all of a user's sessions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { Text, errors } from '../../schemas.js';
import { changeUser, endAllSessions, findUsers, type UserRow } from '../../users/manage-users.js';

const RoleName = Type.Union([Type.Literal('admin'), Type.Literal('moderator'), Type.Literal('user')]);
const UserView = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    roles: Type.Array(Type.String()),
    disabled: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const UserId = Type.Object({ id: Type.String({ format: 'uuid', maxLength: 36 }) }, { additionalProperties: false });
const bearer = [{ bearer: [] }];

const view = (u: UserRow) => ({
  id: u.id,
  email: u.email,
  roles: u.roles,
  disabled: u.disabled,
  created_at: new Date(u.created_at).toISOString(),
});
const cursorOf = (email: string) => Buffer.from(email, 'utf8').toString('base64url');
const emailOf = (cursor: string) => Buffer.from(cursor, 'base64url').toString('utf8');

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/users',
    {
      config: { policy: { permission: 'users:read' } },
      schema: {
        operationId: 'listUsers',
        summary: 'List and search users (paged by cursor)',
        tags: ['admin'],
        security: bearer,
        querystring: Type.Object(
          {
            query: Type.Optional(Text({ minLength: 1, maxLength: 254 })),
            limit: Type.Optional(
              Type.String({ pattern: '^(?:[1-9]|[1-9][0-9]|100)$', description: '1 to 100, default 50' }),
            ),
            cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,400}$' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ users: Type.Array(UserView), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errors(400, 401, 403, 429),
        },
      },
    },
    async (request) => {
      const { query, limit, cursor } = request.query;
      const after = cursor ? emailOf(cursor) : undefined;
      // The schema keeps NUL out of the query, but a cursor decodes to any bytes: PostgreSQL
      // refuses a NUL in text with an error, and no email holds one, so such a cursor is malformed.
      if (after?.includes('\u0000')) throw new TesseraError('invalid_request', { detail: 'NUL in cursor' });
      const page = await findUsers(app.db, {
        ...(query ? { query } : {}),
        limit: limit ? Number(limit) : 50,
        ...(after !== undefined ? { after } : {}),
      });
      return { users: page.users.map(view), next_cursor: page.next ? cursorOf(page.next) : null };
    },
  );

  app.patch(
    '/users/:id',
    {
      // Moderators may reach this route; what they may change is decided per request.
      config: { policy: { permission: 'users:disable' } },
      schema: {
        operationId: 'updateUser',
        summary:
          'Change roles (admin) or the disabled flag (admin; moderators for plain users); ends the user’s sessions',
        tags: ['admin'],
        security: bearer,
        params: UserId,
        // Nothing else is writable: id, email, password hash and times are refused, not ignored.
        body: Type.Object(
          {
            roles: Type.Optional(Type.Array(RoleName, { minItems: 1, maxItems: 3, uniqueItems: true })),
            disabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: UserView, ...errors(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (request) => {
      const { user: actor } = request.principal!;
      const updated = await changeUser(app, actor, request.params.id, request.body, request.ip);
      return view(updated);
    },
  );

  app.delete(
    '/users/:id/sessions',
    {
      config: { policy: { permission: 'sessions:end-any' } },
      schema: {
        operationId: 'endUserSessions',
        summary: 'End every session of a user',
        tags: ['admin'],
        security: bearer,
        params: UserId,
        response: { 200: Type.Object({ ended: Type.Integer() }), ...errors(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (request) => {
      const { user: actor } = request.principal!;
      if (!request.params.id) throw new TesseraError('not_found');
      return { ended: await endAllSessions(app, actor, request.params.id, request.ip) };
    },
  );
};

export default routes;
