// Signing-key lifecycle for admins: list, rotate, revoke.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { errors } from '../../schemas.js';
import { emptyBodyAsObject } from '../../lib/http.js';

const Kid = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'RFC 7638 thumbprint' });
const Purpose = Type.Union([Type.Literal('access'), Type.Literal('refresh')]);
const Timestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const KeyView = Type.Object(
  {
    kid: Type.String(),
    purpose: Purpose,
    alg: Type.String(),
    state: Type.Union([
      Type.Literal('next'),
      Type.Literal('current'),
      Type.Literal('retired'),
      Type.Literal('revoked'),
    ]),
    created_at: Type.String({ format: 'date-time' }),
    activates_at: Type.String({ format: 'date-time' }),
    activated_at: Timestamp,
    retired_at: Timestamp,
    expires_at: Timestamp,
    revoked_at: Timestamp,
  },
  { additionalProperties: false },
);

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { keys } = app;
  const config = { policy: { permission: 'keys:manage' as const } };
  // Rotation and revocation change what every verifier trusts: a recent login (step-up).
  const stepUp = { policy: { permission: 'keys:manage' as const, stepUp: 'recent' as const } };

  app.get(
    '/keys',
    {
      schema: {
        operationId: 'listKeys',
        summary: 'List signing keys',
        tags: ['admin'],
        security: [{ bearer: [] }],
        response: { 200: Type.Object({ keys: Type.Array(KeyView) }), ...errors(401, 403, 429) },
      },
      config,
    },
    async () => ({
      keys: (await keys.listKeys()).map((k) => ({
        kid: k.kid,
        purpose: k.purpose,
        alg: k.alg,
        state: k.state,
        created_at: k.createdAt.toISOString(),
        activates_at: k.activatesAt.toISOString(),
        activated_at: iso(k.activatedAt),
        retired_at: iso(k.retiredAt),
        expires_at: iso(k.expiresAt),
        revoked_at: iso(k.revokedAt),
      })),
    }),
  );

  app.post(
    '/keys/rotate',
    {
      schema: {
        operationId: 'rotateKey',
        summary: 'Start a key rotation: a next key is published now and signs after KEY_PUBLISH_AHEAD',
        tags: ['admin'],
        security: [{ bearer: [] }],
        body: Type.Optional(Type.Object({ purpose: Type.Optional(Purpose) }, { additionalProperties: false })),
        response: {
          200: Type.Object({
            kid: Type.String(),
            purpose: Purpose,
            state: Type.Literal('next'),
            activates_at: Type.String({ format: 'date-time' }),
            created: Type.Boolean(),
          }),
          ...errors(400, 401, 403, 413, 415, 429),
        },
      },
      config: stepUp,
      // `curl -X POST` sends no body at all: that is a rotation with the defaults.
      preValidation: emptyBodyAsObject,
    },
    async (request) => {
      const purpose = request.body?.purpose ?? 'access';
      const result = await keys.rotate(purpose);
      await app.syncKeys();
      request.log.info({ event: 'key_rotation', kid: result.kid, purpose, created: result.created }, 'key rotation');
      return {
        kid: result.kid,
        purpose,
        state: 'next' as const,
        activates_at: result.activatesAt.toISOString(),
        created: result.created,
      };
    },
  );

  app.post(
    '/keys/:kid/revoke',
    {
      schema: {
        operationId: 'revokeKey',
        summary: 'Revoke a key at once; a revoked signing key is replaced immediately',
        tags: ['admin'],
        security: [{ bearer: [] }],
        params: Type.Object({ kid: Kid }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            kid: Type.String(),
            state: Type.Literal('revoked'),
            replacement: Type.Optional(Type.String()),
          }),
          ...errors(400, 401, 403, 404, 413, 415, 429),
        },
      },
      config: stepUp,
    },
    async (request) => {
      const result = await keys.revoke(request.params.kid);
      if (result.kind === 'unknown') throw new TesseraError('not_found');
      await app.syncKeys();
      request.log.warn({ event: 'key_revoked', kid: request.params.kid }, 'signing key revoked');
      return {
        kid: request.params.kid,
        state: 'revoked' as const,
        ...(result.kind === 'revoke' && result.replacement ? { replacement: result.replacement } : {}),
      };
    },
  );
};

export default routes;
