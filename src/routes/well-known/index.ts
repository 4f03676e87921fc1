// Discovery (RFC 8414) and the public signing keys (RFC 7517): fixed bytes per version,
// served first by static-documents.ts and, for what it leaves, by these routes.
import { ACR_VALUES } from '../../domain/mfa/policy.js';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { USER_SCOPES } from '../../domain/tokens/grant-request.js';
import { errors } from '../../schemas.js';
import { etagMatches, type StaticDocument } from './static-documents.js';

const Metadata = Type.Object(
  {
    issuer: Type.String(),
    token_endpoint: Type.String(),
    jwks_uri: Type.String(),
    userinfo_endpoint: Type.String(),
    authorization_endpoint: Type.String(),
    end_session_endpoint: Type.String(),
    revocation_endpoint: Type.String(),
    introspection_endpoint: Type.String(),
    grant_types_supported: Type.Array(Type.String()),
    response_types_supported: Type.Array(Type.String()),
    token_endpoint_auth_methods_supported: Type.Array(Type.String()),
    scopes_supported: Type.Array(Type.String()),
    claims_supported: Type.Array(Type.String()),
  },
  { additionalProperties: true },
);

const Jwk = Type.Object(
  {
    kty: Type.String(),
    kid: Type.String(),
    alg: Type.String(),
    use: Type.String(),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    n: Type.Optional(Type.String()),
    e: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const METADATA_CACHE_CONTROL = 'public, max-age=300';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, keystore, prefix } = app;
  const metadata = {
    issuer: config.issuer,
    authorization_endpoint: `${config.issuer}/oauth/authorize`,
    token_endpoint: `${config.issuer}/oauth/token`,
    jwks_uri: `${config.issuer}/.well-known/jwks.json`,
    userinfo_endpoint: `${config.issuer}/userinfo`,
    end_session_endpoint: `${config.issuer}/oauth/logout`,
    revocation_endpoint: `${config.issuer}/oauth/revoke`,
    introspection_endpoint: `${config.issuer}/oauth/introspect`,
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [config.signingAlg],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: [...USER_SCOPES, 'offline_access'],
    claims_supported: [
      'iss',
      'sub',
      'aud',
      'exp',
      'iat',
      'nbf',
      'jti',
      'client_id',
      'scope',
      'sid',
      'roles',
      'auth_time',
      'nonce',
      'at_hash',
      'amr',
      'acr',
      'email',
      'email_verified',
      'updated_at',
    ],
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    acr_values_supported: ACR_VALUES,
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
  };

  // Serialized once: the same bytes for the life of the process.
  const metadataVersion = { body: JSON.stringify(metadata) };
  const metadataDocument: StaticDocument = { current: () => metadataVersion, cacheControl: METADATA_CACHE_CONTROL };
  // The keystore makes a new body and ETag on every reload (key sync, rotation, revocation):
  // the precomputed answer is rebuilt when the object changes.
  const jwksDocument: StaticDocument = {
    current: () => keystore.jwks(),
    cacheControl: `public, max-age=${config.jwksMaxAge}`,
  };

  const metadataPaths = [
    ['/oauth-authorization-server', 'getOAuthAuthorizationServerMetadata'],
    ['/openid-configuration', 'getOpenIdConfiguration'],
  ] as const;
  for (const [path, operationId] of metadataPaths) {
    app.serveStaticDocument(`${prefix}${path}`, metadataDocument);
    app.get(
      path,
      {
        // Static public documents: see static-documents.ts for why no rate limit.
        config: { policy: { public: true }, rateLimit: false },
        schema: {
          operationId,
          summary: 'Authorization server metadata (RFC 8414)',
          tags: ['discovery'],
          security: [],
          // Not rate limited; 403: plain HTTP in production; 503: the server is draining.
          response: { 200: Metadata, ...errors(403, 503) },
        },
      },
      async (_request, reply) =>
        reply
          .header('cache-control', METADATA_CACHE_CONTROL)
          .type('application/json; charset=utf-8')
          .send(metadataVersion.body as never),
    );
  }

  app.serveStaticDocument(`${prefix}/jwks.json`, jwksDocument);
  app.get(
    '/jwks.json',
    {
      config: { policy: { public: true }, rateLimit: false },
      schema: {
        operationId: 'getJwks',
        summary: 'Public signing keys (RFC 7517); conditional GET with ETag',
        tags: ['discovery'],
        security: [],
        response: {
          200: Type.Object({ keys: Type.Array(Jwk) }, { additionalProperties: false }),
          304: Type.Null(),
          ...errors(403, 503),
        },
      },
    },
    async (request, reply) => {
      const jwks = keystore.jwks();
      reply.header('cache-control', jwksDocument.cacheControl).header('etag', jwks.etag);
      if (etagMatches(request.headers['if-none-match'], jwks.etag)) {
        // No body and no Content-Length on a 304 (RFC 9110 8.6): send nothing, not "null".
        return reply.code(304).send(undefined as never);
      }
      // Serialized once per key change; a string with a content type is sent as is.
      return reply.type('application/json; charset=utf-8').send(jwks.body as never);
    },
  );
};

export default routes;
