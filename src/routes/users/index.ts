// The account life cycle without a token: self-registration while REGISTRATION=open,
// following a verification link, and password reset by mail.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { noStore } from '../../lib/http.js';
import { Email, Password, Text, errors } from '../../schemas.js';
import { registerSelf } from '../../users/register-user.js';
import { verifyEmail } from '../../users/email-verification.js';
import { confirmPasswordReset, requestPasswordReset } from '../../users/password-reset.js';

const RegisterBody = Type.Object({ email: Email, password: Password }, { additionalProperties: false });
const Registered = Type.Object({ email: Type.String() }, { additionalProperties: false });
/** A mail link's token: 256 bits, base64url. Anything else is refused by the schema. */
const LinkToken = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'the `token` of the mailed link' });
const CaptchaToken = Text({
  minLength: 1,
  maxLength: 8192,
  description: 'Needed once requests for the address or from the IP reach the captcha threshold, as at login',
});

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;

  app.post(
    '/',
    {
      bodyLimit: 8192,
      config: {
        policy: { public: true },
        rateLimit: { max: config.rateLimits.registration, timeWindow: ONE_MINUTE },
      },
      schema: {
        summary: 'Register an account (REGISTRATION=open)',
        description:
          'Answers 201 with the normalized email whether or not the email was already registered, so the endpoint ' +
          'cannot be used to learn which emails have accounts. With EMAIL_VERIFICATION=required a verification link ' +
          'is mailed and the account cannot log in before it is followed; an address that has an account gets a ' +
          'notice mail instead, and the account is left untouched; an address with an unverified account gets a ' +
          'link of its own, and whichever link is followed decides the password.',
        operationId: 'registerUser',
        tags: ['users'],
        security: [],
        body: RegisterBody,
        response: { 201: Registered, ...errors(400, 403, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      if (config.registration !== 'open') throw new TesseraError('registration_closed');
      const result = await registerSelf(
        app,
        { email: request.body.email, password: request.body.password, ip: request.ip },
        (task) => app.background('registration mail', task),
      );
      if (!result.created)
        request.log.info({ event: 'registration_existing_email' }, 'registration for an existing email');
      else request.log.info({ event: 'registration', sub: result.user.id }, 'user registered');
      return reply.code(201).send({ email: result.email });
    },
  );

  app.post(
    '/verify-email',
    {
      bodyLimit: 4096,
      config: {
        policy: { public: true },
        rateLimit: { max: config.rateLimits.registration, timeWindow: ONE_MINUTE },
      },
      schema: {
        summary: 'Follow a verification link (registration or email change)',
        description:
          'The token of the link mailed at registration (the account can log in afterwards) or to the new address of ' +
          'an email change (the account moves to it, and the old address is told). A token works once.',
        operationId: 'verifyEmail',
        tags: ['users'],
        security: [],
        body: Type.Object({ token: LinkToken }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            { email: Type.String({ description: 'the verified address' }), email_verified: Type.Literal(true) },
            { additionalProperties: false },
          ),
          ...errors(400, 409, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const { email } = await verifyEmail(app, { token: request.body.token, ip: request.ip });
      return { email, email_verified: true as const };
    },
  );

  app.post(
    '/password-reset',
    {
      bodyLimit: 16384,
      config: {
        policy: { public: true },
        rateLimit: { max: config.rateLimits.login, timeWindow: ONE_MINUTE },
      },
      schema: {
        summary: 'Ask for a password reset link by mail',
        description:
          'Always 202 with an empty body, in the same time, whether or not the address has an account: the mail is ' +
          'sent after the answer. Requests count like failed logins for the address and the IP, so past ' +
          'CAPTCHA_AFTER_FAILURES a captcha is needed (401 captcha_required, as at login).',
        operationId: 'requestPasswordReset',
        tags: ['users'],
        security: [],
        body: Type.Object(
          { email: Email, captcha_token: Type.Optional(CaptchaToken) },
          { additionalProperties: false },
        ),
        response: {
          202: Type.Object({}, { additionalProperties: false }),
          ...errors(400, 401, 403, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      await requestPasswordReset(
        app,
        { email: request.body.email, ip: request.ip, captchaToken: request.body.captcha_token },
        (task) => app.background('password reset request', task),
      );
      return reply.code(202).send({});
    },
  );

  app.post(
    '/password-reset/confirm',
    {
      bodyLimit: 8192,
      config: {
        policy: { public: true },
        rateLimit: { max: config.rateLimits.login, timeWindow: ONE_MINUTE },
      },
      schema: {
        summary: 'Set a new password with a reset (or invitation) link',
        description:
          'The password must meet the policy (400 weak_password leaves the link usable). Ends every session of the ' +
          'account, verifies its address and mails its owner. A token works once.',
        operationId: 'confirmPasswordReset',
        tags: ['users'],
        security: [],
        body: Type.Object({ token: LinkToken, password: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors(400, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      await confirmPasswordReset(app, { token: request.body.token, password: request.body.password, ip: request.ip });
      return reply.code(204).send(undefined as never);
    },
  );
};

export default routes;
