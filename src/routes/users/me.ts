// Self-service: one's own profile, password and sessions. Ids in paths are checked
// against the caller, so another user's data is never reachable by changing an id.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { Email, Password, Text, errors } from '../../schemas.js';
import { isValidEmail, normalizeEmail } from '../../domain/users/email.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { endOwnSession, listOwnSessions } from '../../sessions/own-sessions.js';
import { changePassword } from '../../users/manage-users.js';
import { deleteOwnAccount } from '../../users/erase-user.js';
import { requestEmailChange } from '../../users/email-verification.js';
import { checkCurrentPassword } from '../../users/current-password.js';

const Profile = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    roles: Type.Array(Type.String()),
    email_verified: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const Session = Type.Object(
  {
    id: Type.String(),
    client_id: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.String({ format: 'date-time' }),
    expires_at: Type.String({ format: 'date-time' }),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    current: Type.Boolean(),
  },
  { additionalProperties: false },
);
const user = { policy: { user: true as const } };
const bearer = [{ bearer: [] }];

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const stepUpRecent = app.requireStepUp('recent');
  app.get(
    '/me',
    {
      config: { policy: { user: true as const, beforeEnrolment: true as const } },
      schema: {
        operationId: 'getMe',
        summary: 'Own profile',
        tags: ['users'],
        security: bearer,
        response: { 200: Profile, ...errors(401, 429) },
      },
    },
    async (request) => {
      const { user: me } = request.principal!;
      return {
        id: me.id,
        email: me.email,
        roles: me.roles,
        email_verified: me.email_verified_at !== null,
        created_at: new Date(me.created_at).toISOString(),
      };
    },
  );

  app.post(
    '/me/password',
    {
      bodyLimit: 8192,
      config: { ...user, rateLimit: { max: 10, timeWindow: ONE_MINUTE } },
      schema: {
        operationId: 'changePassword',
        summary: 'Change own password (current password required, under the login defences); ends every other session',
        tags: ['users'],
        security: bearer,
        body: Type.Object(
          {
            current_password: Password,
            new_password: Password,
            captcha_token: Type.Optional(
              Text({
                minLength: 1,
                maxLength: 8192,
                description: 'Needed once failed checks reach the captcha threshold, as at login',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...errors(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const { user: me, claims } = request.principal!;
      await changePassword(app, {
        user: me,
        sessionId: claims.sid!,
        current: request.body.current_password,
        next: request.body.new_password,
        ip: request.ip,
        captchaToken: request.body.captcha_token,
      });
      return reply.code(204).send(undefined as never);
    },
  );

  app.delete(
    '/me',
    {
      bodyLimit: 8192,
      config: { ...user, rateLimit: { max: 10, timeWindow: ONE_MINUTE } },
      schema: {
        operationId: 'deleteMe',
        summary: 'Erase own account (current password required, under the login defences)',
        description:
          'Deletes the account and its personal data and ends every session; the audit log keeps its events under ' +
          'the account id only. The last enabled admin cannot delete itself (400).',
        tags: ['users'],
        security: bearer,
        body: Type.Object(
          { password: Password, captcha_token: Type.Optional(Text({ minLength: 1, maxLength: 8192 })) },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...errors(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const { user: me } = request.principal!;
      await deleteOwnAccount(app, {
        user: me,
        password: request.body.password,
        ip: request.ip,
        captchaToken: request.body.captcha_token,
      });
      return reply.code(204).send(undefined as never);
    },
  );

  app.post(
    '/me/email',
    {
      bodyLimit: 8192,
      config: { ...user, rateLimit: { max: 10, timeWindow: ONE_MINUTE } },
      schema: {
        operationId: 'changeOwnEmail',
        summary:
          'Move own account to a new address (current password required); takes effect when the new address confirms',
        description:
          'Always 202: a link goes to the new address (followed at POST /users/verify-email, after which the old ' +
          'address is told); an address that already has an account gets nothing, and the answer does not say so.',
        tags: ['users'],
        security: bearer,
        body: Type.Object(
          { email: Email, password: Password, captcha_token: Type.Optional(Text({ minLength: 1, maxLength: 8192 })) },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({}, { additionalProperties: false }), ...errors(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const { user: me } = request.principal!;
      if (!isValidEmail(normalizeEmail(request.body.email)))
        throw new TesseraError('invalid_request', { description: 'The email address is invalid' });
      await checkCurrentPassword(app, {
        step: 'email_change',
        user: me,
        password: request.body.password,
        ip: request.ip,
        captchaToken: request.body.captcha_token,
      });
      const email = request.body.email;
      // After the answer: whether the new address is taken must not show in the time either.
      app.background('email change request', async () => {
        await requestEmailChange(app, { user: me, email, by: me.id, ip: request.ip });
      });
      return reply.code(202).send({});
    },
  );

  app.get(
    '/me/sessions',
    {
      config: user,
      schema: {
        operationId: 'listOwnSessions',
        summary: 'Own live sessions',
        tags: ['users'],
        security: bearer,
        response: { 200: Type.Object({ sessions: Type.Array(Session) }), ...errors(401, 429) },
      },
    },
    async (request) => {
      const { user: me, claims } = request.principal!;
      const sessions = await listOwnSessions(app.db, me.id);
      return {
        sessions: sessions.map((s) => ({
          id: s.id,
          client_id: s.client_id,
          created_at: new Date(s.created_at).toISOString(),
          last_used_at: new Date(s.last_used_at).toISOString(),
          expires_at: new Date(s.expires_at).toISOString(),
          user_agent: s.user_agent,
          ip: s.ip,
          current: s.id === claims.sid,
        })),
      };
    },
  );

  app.delete(
    '/me/sessions/:id',
    {
      config: user,
      schema: {
        operationId: 'endOwnSession',
        summary: 'End one of own sessions',
        description:
          'Ending another session needs a login within STEP_UP_MAX_AGE (else 401 insufficient_user_authentication); ' +
          'ending the current one (signing out) does not.',
        tags: ['users'],
        security: bearer,
        params: Type.Object({ id: Text({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors(400, 401, 404, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const { user: me, claims } = request.principal!;
      // ASVS 7.5.2: a stolen, older token cannot sign the owner out elsewhere; signing out here can.
      // Checked before the lookup, so a refused token learns nothing about the id.
      if (request.params.id !== claims.sid) await stepUpRecent(request, reply);
      // Someone else's session and no session look the same: 404.
      if (!(await endOwnSession(app.db, { userId: me.id, sessionId: request.params.id, ip: request.ip })))
        throw new TesseraError('not_found');
      return reply.code(204).send(undefined as never);
    },
  );
};

export default routes;
