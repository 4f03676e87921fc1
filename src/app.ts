// The whole app as one plugin (src/server.ts registers it): the settings as app.config,
// then three ordered passes: plugins/external (third-party plugins), plugins/app (our
// named service plugins, each declaring what it depends on), then the routes.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.js';
import type { Database } from './db/database.js';
import { loadSecrets } from './crypto/secrets.js';
import mfaPlugin from './plugins/app/mfa.js';
import { errorHandler } from './errors/error-mapper.js';
import { TesseraError } from './errors/errors.js';
import { ErrorBody, TokenResponse } from './schemas.js';
import { decodeBody } from './lib/strict-decode.js';
import { pathOf } from './lib/http.js';

import swaggerPlugin from './plugins/external/swagger.js';
import redisPlugin from './plugins/external/redis.js';
import helmetPlugin from './plugins/external/helmet.js';
import corsPlugin from './plugins/external/cors.js';
import cookiePlugin from './plugins/external/cookie.js';
import rateLimitPlugin from './plugins/external/rate-limit.js';
import staticDocumentsPlugin from './routes/well-known/static-documents.js';

import databasePlugin from './plugins/app/database.js';
import hasherPlugin from './plugins/app/hasher.js';
import keystorePlugin from './plugins/app/keystore.js';
import tokenServicePlugin from './plugins/app/token-service.js';
import auditPlugin from './plugins/app/audit.js';
import mailerPlugin from './plugins/app/mailer.js';
import backgroundPlugin from './plugins/app/background.js';
import credentialGuardPlugin from './plugins/app/credential-guard.js';
import housekeepingPlugin from './plugins/app/housekeeping.js';
import metricsPlugin from './plugins/app/metrics.js';
import breachedPasswordsPlugin from './plugins/app/breached-passwords.js';
import auditContextPlugin from './plugins/app/audit-context.js';
import closingPlugin from './plugins/app/closing.js';
import authenticationPlugin from './plugins/app/authentication.js';
import authorizationPlugin from './plugins/app/authorization.js';
import routePolicyPlugin from './plugins/app/route-policy.js';
import hostedPagesPlugin from './plugins/app/hosted-pages.js';

import wellKnownRoutes from './routes/well-known/index.js';
import authRoutes from './routes/auth/index.js';
import oauthRoutes from './routes/oauth/index.js';
import usersRoutes from './routes/users/index.js';
import meRoutes from './routes/users/me.js';
import mfaRoutes from './routes/users/mfa.js';
import consentRoutes from './routes/users/consents.js';
import userinfoRoutes from './routes/userinfo/index.js';
import healthRoutes from './routes/health/index.js';
import adminKeyRoutes from './routes/admin/keys.js';
import adminUserRoutes from './routes/admin/users.js';
import adminClientRoutes from './routes/admin/clients.js';
import adminAuditRoutes from './routes/admin/audit.js';
import metricsRoutes from './routes/metrics/index.js';
import assetRoutes from './routes/assets/index.js';
import accountRoutes from './routes/account/index.js';

/** The settings every plugin and route may read; the master key stays out of it. */
export type AppConfig = Omit<Config, 'masterKey' | 'masterKeyPrevious'>;

declare module 'fastify' {
  interface FastifyInstance {
    config: AppConfig;
  }
}

export interface AppOptions {
  config: Config;
  /** An open database to share instead of opening one (its owner closes it). */
  database?: Database | undefined;
}

export default async function tesseraApp(app: FastifyInstance, options: AppOptions): Promise<void> {
  const { masterKey: _masterKey, masterKeyPrevious: _previous, ...settings } = options.config;
  app.decorate('config', settings);
  // Secrets go to the plugins that use them as options, never onto the instance.
  const { box, counterSecret, formSecret } = loadSecrets(options.config);

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
    // The default parser answers through done(); it returns nothing to wait for.
    void parseJson(request, text, done);
  });
  app.addSchema(ErrorBody);
  app.addSchema(TokenResponse);
  app.setErrorHandler(errorHandler);

  // 1. Third-party plugins, in the order their hooks must run. The discovery documents and
  // the JWKS are answered in the first onRequest hook of all, with the security headers.
  await app.register(swaggerPlugin);
  await app.register(redisPlugin);
  await app.register(staticDocumentsPlugin);
  await app.register(helmetPlugin);
  await app.register(closingPlugin);
  await app.register(corsPlugin);
  await app.register(cookiePlugin);
  await app.register(rateLimitPlugin);

  // 2. Our service plugins.
  await app.register(databasePlugin, { database: options.database });
  await app.register(hasherPlugin);
  await app.register(keystorePlugin, { box });
  await app.register(tokenServicePlugin);
  await app.register(auditPlugin, { box });
  await app.register(mailerPlugin, { box });
  await app.register(mfaPlugin, { box });
  await app.register(backgroundPlugin);
  await app.register(credentialGuardPlugin, { counterSecret });
  await app.register(housekeepingPlugin);
  await app.register(metricsPlugin);
  await app.register(breachedPasswordsPlugin);
  await app.register(auditContextPlugin);
  await app.register(authenticationPlugin);
  await app.register(authorizationPlugin);
  await app.register(routePolicyPlugin);
  await app.register(hostedPagesPlugin, { formSecret });

  // 3. Routes. Unknown ones are rate limited too, so probing them costs the same as anything else.
  app.setNotFoundHandler({ preHandler: app.rateLimit() }, async (request) => {
    throw new TesseraError('not_found', { detail: `${request.method} ${pathOf(request.url)}` });
  });
  await app.register(wellKnownRoutes, { prefix: '/.well-known' });
  await app.register(authRoutes, { prefix: '/auth' });
  await app.register(oauthRoutes, { prefix: '/oauth' });
  await app.register(accountRoutes, { prefix: '/account' });
  await app.register(usersRoutes, { prefix: '/users' });
  await app.register(meRoutes, { prefix: '/users' });
  await app.register(mfaRoutes, { prefix: '/users' });
  await app.register(consentRoutes, { prefix: '/users' });
  await app.register(userinfoRoutes, { prefix: '/userinfo' });
  await app.register(healthRoutes);
  await app.register(adminKeyRoutes, { prefix: '/admin' });
  await app.register(adminUserRoutes, { prefix: '/admin' });
  await app.register(adminClientRoutes, { prefix: '/admin' });
  await app.register(adminAuditRoutes, { prefix: '/admin' });
  await app.register(metricsRoutes);
  await app.register(assetRoutes);
}
