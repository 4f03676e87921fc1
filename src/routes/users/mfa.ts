// Self-service second factors: TOTP enrolment and confirmation, passkey registration,
// recovery codes, the list, and removal (which needs a recent login with a second factor).
// These routes work before enrolment, so an account the policy covers can enrol. Adding a
// factor needs a login within STEP_UP_MAX_AGE (ASVS 7.5.1): a stolen access token that is
// older cannot add the thief's factor (the enrolment forced right after a login is recent).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import { FactorLabel, FactorView, RegistrationResponse, errors } from '../../schemas.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { emptyBodyAsObject, noStore } from '../../lib/http.js';
import { requiresSecondFactor } from '../../domain/mfa/policy.js';

const enrol = { policy: { user: true as const, beforeEnrolment: true as const } };
const addFactor = {
  policy: { ...enrol.policy, stepUp: 'recent' as const },
  rateLimit: { max: 20, timeWindow: ONE_MINUTE },
};
const recentLogin = 'Needs a login within STEP_UP_MAX_AGE (else 401 insufficient_user_authentication).';
const bearer = [{ bearer: [] }];
const RecoveryCodes = Type.Array(Type.String({ pattern: '^[a-z2-9]{5}-[a-z2-9]{5}$' }), { minItems: 10, maxItems: 10 });
const Enrolled = Type.Object(
  {
    factor: FactorView,
    recovery_codes: Type.Optional({
      ...RecoveryCodes,
      description: 'With the first factor only: ten single-use codes, shown this once',
    }),
  },
  { additionalProperties: false },
);
const FactorId = Type.Object({ id: Type.String({ format: 'uuid', maxLength: 36 }) }, { additionalProperties: false });

const actorOf = (request: FastifyRequest) => ({
  userId: request.principal!.user.id,
  sessionId: request.principal!.claims.sid,
  ip: request.ip,
});

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/me/mfa',
    {
      config: enrol,
      schema: {
        operationId: 'listOwnFactors',
        summary: 'Own second factors (never their secrets) and how many recovery codes are left',
        tags: ['mfa'],
        security: bearer,
        response: {
          200: Type.Object(
            {
              factors: Type.Array(FactorView),
              recovery_codes_remaining: Type.Integer(),
              required: Type.Boolean({
                description: 'Whether the policy (MFA_REQUIRED_ROLES, MFA_REQUIRED) covers this account',
              }),
            },
            { additionalProperties: false },
          ),
          ...errors(401, 429),
        },
      },
    },
    async (request) => {
      const { user } = request.principal!;
      const overview = await app.mfa.overview(user.id);
      return { ...overview, required: requiresSecondFactor(user.roles, app.config.mfa) };
    },
  );

  app.post(
    '/me/mfa/totp',
    {
      bodyLimit: 1024,
      config: addFactor,
      // `curl -X POST` sends no body: a start with the default label.
      preValidation: emptyBodyAsObject,
      schema: {
        operationId: 'startTotp',
        summary: 'Start TOTP enrolment: a new secret, shown this once as text, otpauth:// URI and QR code (SVG)',
        description:
          'The secret counts only after POST /users/me/mfa/totp/confirm with a first code, within 15 minutes. ' +
          recentLogin,
        tags: ['mfa'],
        security: bearer,
        body: Type.Optional(Type.Object({ label: Type.Optional(FactorLabel) }, { additionalProperties: false })),
        response: {
          201: Type.Object(
            { id: Type.String(), secret: Type.String(), otpauth_uri: Type.String(), qr_svg: Type.String() },
            { additionalProperties: false },
          ),
          ...errors(400, 401, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      const { user } = request.principal!;
      noStore(reply);
      return reply.code(201).send(await app.mfa.startTotp(user, request.body?.label));
    },
  );

  app.post(
    '/me/mfa/totp/confirm',
    {
      bodyLimit: 1024,
      config: addFactor,
      schema: {
        operationId: 'confirmTotp',
        summary: 'Confirm TOTP enrolment with a first code; the first factor also brings ten recovery codes',
        description:
          'An account the policy covers, enrolling its first factor, gets tokens with its roles from its next refresh. ' +
          recentLogin,
        tags: ['mfa'],
        security: bearer,
        body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
        response: { 200: Enrolled, ...errors(400, 401, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return app.mfa.confirmTotp(request.principal!.user, request.body.code, actorOf(request));
    },
  );

  app.post(
    '/me/mfa/webauthn/register/options',
    {
      bodyLimit: 1024,
      config: addFactor,
      schema: {
        operationId: 'passkeyRegistrationOptions',
        summary: 'Options for navigator.credentials.create(): a single-use challenge, valid 5 minutes',
        description: recentLogin,
        tags: ['mfa'],
        security: bearer,
        response: {
          200: Type.Object({}, { additionalProperties: true, description: 'PublicKeyCredentialCreationOptionsJSON' }),
          ...errors(400, 401, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return app.mfa.passkeyOptions(request.principal!.user);
    },
  );

  app.post(
    '/me/mfa/webauthn/register/verify',
    {
      bodyLimit: 32_768,
      config: addFactor,
      schema: {
        operationId: 'passkeyRegistrationVerify',
        summary: 'Register a passkey: the response of navigator.credentials.create(), as PublicKeyCredential.toJSON()',
        description: recentLogin,
        tags: ['mfa'],
        security: bearer,
        body: Type.Object(
          { credential: RegistrationResponse, label: Type.Optional(FactorLabel) },
          { additionalProperties: false },
        ),
        response: { 200: Enrolled, ...errors(400, 401, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return app.mfa.registerPasskey(
        request.principal!.user,
        request.body.credential,
        request.body.label ?? 'Passkey',
        actorOf(request),
      );
    },
  );

  app.post(
    '/me/mfa/recovery-codes',
    {
      bodyLimit: 1024,
      config: {
        policy: { user: true, beforeEnrolment: true, stepUp: 'mfa' },
        rateLimit: { max: 10, timeWindow: ONE_MINUTE },
      },
      schema: {
        operationId: 'regenerateRecoveryCodes',
        summary: 'Ten new recovery codes, shown this once; the old set stops working',
        description:
          'Needs a login with a second factor within STEP_UP_MAX_AGE (else 401 insufficient_user_authentication).',
        tags: ['mfa'],
        security: bearer,
        response: {
          200: Type.Object({ recovery_codes: RecoveryCodes }, { additionalProperties: false }),
          ...errors(400, 401, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return { recovery_codes: await app.mfa.regenerateRecoveryCodes(request.principal!.user, actorOf(request)) };
    },
  );

  app.delete(
    '/me/mfa/:id',
    {
      config: {
        policy: { user: true, beforeEnrolment: true, stepUp: 'mfa' },
        rateLimit: { max: 10, timeWindow: ONE_MINUTE },
      },
      schema: {
        operationId: 'removeOwnFactor',
        summary: 'Remove one of own second factors',
        description:
          'Needs a login with a second factor within STEP_UP_MAX_AGE (else 401 insufficient_user_authentication). ' +
          'An account the policy covers cannot remove its last factor (400). Removing the last one also ends the recovery codes.',
        tags: ['mfa'],
        security: bearer,
        params: FactorId,
        response: { 204: Type.Null(), ...errors(400, 401, 404, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      await app.mfa.remove(request.principal!.user, request.params.id, actorOf(request));
      return reply.code(204).send(undefined as never);
    },
  );
};

export default routes;
