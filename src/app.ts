// The whole HTTP app as one Fastify instance: external plugins, our plugins, then routes.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from './services.js';
import { ConfigError, type Config } from './config/config.js';
import { errorHandler, toWireError } from './errors/error-mapper.js';
import { TesseraError } from './errors/errors.js';
import { securityHeaders } from './lib/security-headers.js';
import { clientErrorHandler } from './lib/client-error.js';
import { ErrorBody, TokenResponse } from './schemas.js';
import { decodeBody, parseQuery } from './lib/strict-decode.js';
import servicesPlugin from './plugins/app/services.js';
import authenticationPlugin from './plugins/app/authentication.js';
import authorizationPlugin from './plugins/app/authorization.js';
import routePolicyPlugin from './plugins/app/route-policy.js';
import helmetPlugin from './plugins/external/helmet.js';
import rateLimitPlugin from './plugins/external/rate-limit.js';
import corsPlugin from './plugins/external/cors.js';
import cookie from '@fastify/cookie';
import wellKnownRoutes from './routes/well-known/index.js';
import authRoutes from './routes/auth/index.js';
import oauthRoutes from './routes/oauth/index.js';
import usersRoutes from './routes/users/index.js';
import meRoutes from './routes/users/me.js';
import adminUserRoutes from './routes/admin/users.js';
import adminClientRoutes from './routes/admin/clients.js';
import userinfoRoutes from './routes/userinfo/index.js';
import healthRoutes from './routes/health/index.js';
import adminKeyRoutes from './routes/admin/keys.js';
import { loggerOptions } from './logger.js';
import metricsPlugin from './plugins/app/metrics.js';
import auditContextPlugin from './plugins/app/audit-context.js';
import adminAuditRoutes from './routes/admin/audit.js';
import metricsRoutes from './routes/metrics/index.js';

export interface AppOptions {
  logger?: FastifyServerOptions['logger'];
}

/** A hop count becomes a function, the form Fastify honours for it (proxy-addr semantics). */
function fastifyTrustProxy(value: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value !== 'number') return value;
  return (_address, hop) => hop < value;
}

/** What a log line may hold of a URL: the path; a query string can carry codes and tokens. */
function pathOf(url: string): string {
  return (url.split('?', 1)[0] ?? '').slice(0, 200);
}

function readTlsFile(path: string, variable: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw new ConfigError(variable, `cannot read ${path}`);
  }
}

export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = services;
  const httpsIssuer = config.issuer.startsWith('https:');
  const app = Fastify({
    // TLS_CERT_FILE/TLS_KEY_FILE: serve HTTPS directly, TLS 1.2 or newer only.
    ...(config.tls ? { https: { cert: readTlsFile(config.tls.certFile, 'TLS_CERT_FILE'), key: readTlsFile(config.tls.keyFile, 'TLS_KEY_FILE'), minVersion: 'TLSv1.2' as const } } : {}),
    logger: options.logger ?? loggerOptions(config.logLevel),
    trustProxy: fastifyTrustProxy(config.trustProxy),
    bodyLimit: config.bodyLimit,
    // Never trust a caller-chosen request id; every request gets a fresh one.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Answered by the hook below instead: Fastify's own 503 has neither the contract's
    // body nor the security headers.
    return503OnClosing: false,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    // Undecodable query escapes are refused by the route schemas, not read as other text.
    routerOptions: { maxParamLength: 200, querystringParser: parseQuery },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Undecodable URLs are answered by the one error mapper too, not Fastify's own body.
    // No hooks run for these, so the headers the helmet plugin would add are set here.
    frameworkErrors: (error, request, reply) => {
      reply.headers(securityHeaders(httpsIssuer || request.protocol === 'https'));
      // Fastify's own message quotes the whole URL; the logged detail keeps the path only.
      const { error: code } = toWireError(error).body;
      return errorHandler(new TesseraError(code, { detail: `${error.code} ${request.method} ${pathOf(request.url)}` }), request, reply);
    },
    // Requests Node cannot parse never reach Fastify; they are answered on the socket.
    clientErrorHandler: clientErrorHandler(httpsIssuer),
    ajv: {
      // Extra fields are refused, not silently dropped; types are never coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only unless a route scope says otherwise; text/plain is refused with 415. JSON is
  // Fastify's own parser, fed only bodies that are UTF-8 (its decoding would read U+FFFD).
  app.removeContentTypeParser(['text/plain', 'application/json']);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = decodeBody(body as Buffer);
    } catch (error) {
      return done(error as Error, undefined);
    }
    parseJson(request, text, done);
  });
  app.addSchema(ErrorBody);
  app.addSchema(TokenResponse);
  app.setErrorHandler(errorHandler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Tessera', version: '0.1.0', description: 'Identity and token service. Generated from the route schemas; do not edit by hand.' },
      servers: [{ url: 'http://localhost:3000' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // A prefix's root route ('/users' + '/') answers on both paths, but Fastify hands swagger
    // the '/users/' variant; document the path without the slash, as the contract names it.
    transform: ({ schema, url }) => ({ schema, url: url.length > 1 ? url.replace(/\/$/, '') : url }),
  });

  await app.register(servicesPlugin, { services });
  await app.register(metricsPlugin);
  await app.register(auditContextPlugin);
  await app.register(helmetPlugin);
  // Requests still arriving on open connections while the server drains get the
  // contract's 503, after helmet's headers; Fastify adds `connection: close` itself.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new TesseraError('temporarily_unavailable', { detail: 'server closing' });
  });
  await app.register(corsPlugin);
  await app.register(cookie, { hook: 'onRequest' });
  await app.register(rateLimitPlugin);
  // Unknown routes are rate limited too, so probing them costs the same as anything else.
  app.setNotFoundHandler({ preHandler: app.rateLimit() }, async (request) => {
    throw new TesseraError('not_found', { detail: `${request.method} ${pathOf(request.url)}` });
  });
  await app.register(authenticationPlugin);
  await app.register(authorizationPlugin);
  await app.register(routePolicyPlugin);

  await app.register(wellKnownRoutes, { prefix: '/.well-known' });
  await app.register(authRoutes, { prefix: '/auth' });
  await app.register(oauthRoutes, { prefix: '/oauth' });
  await app.register(usersRoutes, { prefix: '/users' });
  await app.register(meRoutes, { prefix: '/users' });
  await app.register(userinfoRoutes, { prefix: '/userinfo' });
  await app.register(healthRoutes);
  await app.register(adminKeyRoutes, { prefix: '/admin' });
  await app.register(adminUserRoutes, { prefix: '/admin' });
  await app.register(adminClientRoutes, { prefix: '/admin' });
  await app.register(adminAuditRoutes, { prefix: '/admin' });
  await app.register(metricsRoutes);
  return app;
}
