// The process shell: the Fastify server and its options (logger, timeouts, TLS, proxies,
// request ids, body limit, answers to requests that never reach a route), the app plugin,
// and for `tessera serve` a graceful close on signals and listen.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import closeWithGrace from 'close-with-grace';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import type { Database } from './db/database.js';
import { errorHandler, toWireError } from './errors/error-mapper.js';
import { TesseraError } from './errors/errors.js';
import { securityHeaders } from './lib/security-headers.js';
import { clientErrorHandler } from './lib/client-error.js';
import { parseQuery } from './lib/strict-decode.js';
import { pathOf } from './lib/http.js';
import { loggerOptions } from './logger.js';
import tesseraApp from './app.js';

export interface ServerOptions {
  /** Fastify's logger option; default: JSON lines at LOG_LEVEL. */
  logger?: FastifyServerOptions['logger'];
  /** An open database to share instead of opening one (its owner closes it): a second app in one process. */
  database?: Database;
}

/** A hop count becomes a function, the form Fastify honours for it (proxy-addr semantics). */
function fastifyTrustProxy(
  value: Config['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value !== 'number') return value;
  return (_address, hop) => hop < value;
}

function readTlsFile(path: string, variable: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw new ConfigError(variable, `cannot read ${path}`);
  }
}

function serverOptions(config: Config, options: Pick<ServerOptions, 'logger'> = {}): FastifyServerOptions {
  const httpsIssuer = config.issuer.startsWith('https:');
  return {
    // TLS_CERT_FILE/TLS_KEY_FILE: serve HTTPS directly, TLS 1.2 or newer only.
    ...(config.tls
      ? {
          https: {
            cert: readTlsFile(config.tls.certFile, 'TLS_CERT_FILE'),
            key: readTlsFile(config.tls.keyFile, 'TLS_KEY_FILE'),
            minVersion: 'TLSv1.2' as const,
          },
        }
      : {}),
    logger: options.logger ?? loggerOptions(config.logLevel),
    trustProxy: fastifyTrustProxy(config.trustProxy),
    bodyLimit: config.bodyLimit,
    // Never trust a caller-chosen request id; every request gets a fresh one.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Answered by the closing plugin instead: Fastify's own 503 has neither the contract's
    // body nor the security headers.
    return503OnClosing: false,
    // The app plugin connects, migrates and loads keys before it is ready: far more than
    // Fastify's 10 s default on a first start or a loaded embedded database.
    pluginTimeout: 120_000,
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
      // The router ignores what this returns; the reply is sent, nothing awaits it.
      void errorHandler(
        new TesseraError(code, { detail: `${error.code} ${request.method} ${pathOf(request.url)}` }),
        request,
        reply,
      );
    },
    // Requests Node cannot parse never reach Fastify; they are answered on the socket.
    clientErrorHandler: clientErrorHandler(httpsIssuer),
    ajv: {
      // Extra fields are refused, not silently dropped; types are never coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false },
    },
  };
}

/**
 * The configured server with the whole app registered (database connected and migrated,
 * keys loaded), not yet listening: what `tessera serve`, the tests, the bench and the
 * OpenAPI generation all start from. On failure, whatever was opened is closed again.
 */
export async function buildServer(config: Config, options: ServerOptions = {}): Promise<FastifyInstance> {
  const server = Fastify(serverOptions(config, options)).withTypeProvider<TypeBoxTypeProvider>();
  try {
    await server.register(fp(tesseraApp, { name: 'tessera' }), { config, database: options.database });
  } catch (error) {
    await server.close().catch(() => undefined);
    throw error;
  }
  return server;
}

export async function serve(): Promise<void> {
  const config = loadConfig();
  const server = await buildServer(config);
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) server.log.error({ err }, 'closing after an error');
    else server.log.info({ signal }, 'closing');
    // In-flight requests finish, connections close, then every plugin closes what it opened.
    await server.close();
  });
  await server.listen({ port: config.port, host: config.host });
  server.log.info({ issuer: config.issuer, database: config.database.kind }, 'tessera ready');
}
