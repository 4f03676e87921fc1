// User administration: list and search (admins and moderators), create (with a password
// or an invitation), change roles, the disabled flag and the address, send a reset mail,
// end all of a user's sessions, erase, list and reset second factors.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { Email, FactorView, Password, Text, errors } from '../../schemas.js';
import { hasPermission } from '../../domain/roles/permissions.js';
import { findUserById } from '../../db/repositories/users.js';
import { changeUser, createUserByAdmin, endAllSessions, findUsers, type UserRow } from '../../users/manage-users.js';
import { eraseUser } from '../../users/erase-user.js';
import { requestEmailChange } from '../../users/email-verification.js';
import { sendPasswordResetFor } from '../../users/password-reset.js';

const RoleName = Type.Union([Type.Literal('admin'), Type.Literal('moderator'), Type.Literal('user')]);
const UserView = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    roles: Type.Array(Type.String()),
    disabled: Type.Boolean(),
    email_verified: Type.Boolean(),
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
  email_verified: u.email_verified_at !== null,
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
            email: Type.Optional(
              Type.Unsafe<string>({
                ...Email,
                description:
                  'admin only: mails a link to the new address; the account moves there when it is followed, and the ' +
                  'old address is told (the answer still shows the old address). 409 email_taken if another account has it',
              }),
            ),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: UserView, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const { user: actor } = request.principal!;
      const { email, ...flags } = request.body;
      // A role grant needs a recent login (step-up, RFC 9470).
      if (flags.roles !== undefined) await app.requireStepUp('recent')(request, reply);
      if (email !== undefined && !hasPermission(actor.roles, 'users:write'))
        throw new TesseraError('forbidden', { detail: 'email change needs users:write' });
      let updated = Object.keys(flags).length
        ? await changeUser(app, actor, request.params.id, flags, request.ip)
        : await findUserById(app.db, request.params.id);
      if (!updated) throw new TesseraError('not_found');
      if (email !== undefined) {
        const change = await requestEmailChange(app, { user: updated, email, by: actor.id, ip: request.ip });
        if (change.taken) throw new TesseraError('email_taken');
        updated = (await findUserById(app.db, updated.id)) ?? updated;
      }
      return view(updated);
    },
  );

  app.post(
    '/users',
    {
      bodyLimit: 8192,
      config: { policy: { permission: 'users:write' } },
      schema: {
        operationId: 'createUser',
        summary: 'Create a user (works while REGISTRATION=closed); with a password, or an invitation mail',
        description:
          'The address counts as verified. `invite: true` mails a link to set the password (valid INVITATION_TTL); ' +
          'send either `password` or `invite`. 409 email_taken when the address has an account.',
        tags: ['admin'],
        security: bearer,
        body: Type.Object(
          {
            email: Email,
            roles: Type.Optional(Type.Array(RoleName, { minItems: 1, maxItems: 3, uniqueItems: true })),
            password: Type.Optional(Password),
            invite: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 201: UserView, ...errors(400, 401, 403, 409, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const { user: actor } = request.principal!;
      if (request.body.roles?.some((r) => r !== 'user')) await app.requireStepUp('recent')(request, reply);
      const created = await createUserByAdmin(app, actor, {
        email: request.body.email,
        roles: request.body.roles ?? ['user'],
        password: request.body.password,
        invite: request.body.invite === true,
        ip: request.ip,
      });
      return reply.code(201).send(view(created));
    },
  );

  app.delete(
    '/users/:id',
    {
      config: { policy: { permission: 'users:write' } },
      schema: {
        operationId: 'deleteUser',
        summary: 'Erase a user: personal data and sessions; the audit log keeps the user id only',
        description: 'The last enabled admin cannot be deleted (400). The owner is mailed a notice.',
        tags: ['admin'],
        security: bearer,
        params: UserId,
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const { user: actor } = request.principal!;
      await eraseUser(app, { userId: request.params.id, by: actor.id, ip: request.ip });
      return reply.code(204).send(undefined as never);
    },
  );

  app.post(
    '/users/:id/password-reset',
    {
      config: { policy: { permission: 'users:write' } },
      schema: {
        operationId: 'sendUserPasswordReset',
        summary: 'Mail the user a password reset link',
        tags: ['admin'],
        security: bearer,
        params: UserId,
        response: {
          202: Type.Object({}, { additionalProperties: false }),
          ...errors(400, 401, 403, 404, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      const { user: actor } = request.principal!;
      if (!app.config.accounts.selfServiceReset) throw new TesseraError('password_reset_unavailable');
      const target = await findUserById(app.db, request.params.id);
      if (!target) throw new TesseraError('not_found');
      await sendPasswordResetFor(app, target, { actor: actor.id, ip: request.ip });
      return reply.code(202).send({});
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

  app.get(
    '/users/:id/mfa',
    {
      config: { policy: { permission: 'users:read' } },
      schema: {
        operationId: 'listUserFactors',
        summary: "A user's second factors (never their secrets) and how many recovery codes are left",
        tags: ['admin'],
        security: bearer,
        params: UserId,
        response: {
          200: Type.Object(
            { factors: Type.Array(FactorView), recovery_codes_remaining: Type.Integer() },
            { additionalProperties: false },
          ),
          ...errors(400, 401, 403, 404, 429),
        },
      },
    },
    async (request) => {
      if (!(await findUserById(app.db, request.params.id))) throw new TesseraError('not_found');
      return app.mfa.overview(request.params.id);
    },
  );

  app.delete(
    '/users/:id/mfa',
    {
      config: { policy: { permission: 'users:write', stepUp: 'recent' } },
      schema: {
        operationId: 'resetUserFactors',
        summary: "Remove every second factor and recovery code of a user (a lost device); ends the user's sessions",
        description:
          'Audited (mfa_reset) and mailed to the user. Needs a login within STEP_UP_MAX_AGE ' +
          '(else 401 insufficient_user_authentication). An account the policy covers enrols again at its next login.',
        tags: ['admin'],
        security: bearer,
        params: UserId,
        response: { 200: Type.Object({ removed: Type.Integer() }), ...errors(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (request) => {
      const target = await findUserById(app.db, request.params.id);
      if (!target) throw new TesseraError('not_found');
      const { user: actor } = request.principal!;
      return { removed: await app.mfa.resetAll(target, { userId: actor.id, sessionId: undefined, ip: request.ip }) };
    },
  );
};

export default routes;
