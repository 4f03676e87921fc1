// The process shell: the Fastify server and its options (logger, timeouts, TLS, proxies,
// request ids, body limit, answers to requests that never reach a route), the app plugin,
// and for `tessera serve` listen and a graceful close on signals within SHUTDOWN_TIMEOUT.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerOptions as NodeServerOptions } from 'node:http';
import type { Socket } from 'node:net';
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

/**
 * Node's default list still takes suites without forward secrecy or with CBC (AES128-SHA) from
 * a TLS 1.2 client. Allowed: the TLS 1.3 suites, and for TLS 1.2 ECDHE with an AEAD only
 * (ASVS 12.1.2), strongest first; deploy/nginx.conf offers the same list.
 */
const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

function readTlsFile(path: string, variable: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw new ConfigError(variable, `cannot read ${path}`);
  }
}

/**
 * Node's own request timers, given when the server is created (Node checks them then).
 * headersTimeout: Node refuses one above requestTimeout, and the old advice to keep it above
 * keepAliveTimeout (Node 10 to 12 ran the headers timer on idle kept-alive connections, and
 * load balancers got resets) no longer applies: since Node 18 it runs from the first byte of
 * a request only, so idle connections live for KEEP_ALIVE_TIMEOUT whatever it is.
 * connectionsCheckingInterval: how often Node looks for requests past those limits; its
 * default of 30 s would let a request run up to 30 s past REQUEST_TIMEOUT.
 */
function nodeTimeouts(config: Config): NodeServerOptions {
  const requestTimeout = config.http.requestTimeout * 1000;
  return { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: 1_000 };
}

function serverOptions(config: Config, options: Pick<ServerOptions, 'logger'> = {}): FastifyServerOptions {
  const httpsIssuer = config.issuer.startsWith('https:');
  const timeouts = nodeTimeouts(config);
  return {
    // TLS_CERT_FILE/TLS_KEY_FILE: serve HTTPS directly, TLS 1.2 or newer, forward-secret AEAD suites only.
    ...(config.tls
      ? {
          https: {
            cert: readTlsFile(config.tls.certFile, 'TLS_CERT_FILE'),
            key: readTlsFile(config.tls.keyFile, 'TLS_KEY_FILE'),
            minVersion: 'TLSv1.2' as const,
            ciphers: TLS_CIPHERS,
            honorCipherOrder: true,
            ecdhCurve: 'X25519:P-256:P-384',
            ...timeouts,
          },
        }
      : { http: timeouts }),
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
    // REQUEST_TIMEOUT: the whole request (headers and body) must arrive within it, else 408.
    requestTimeout: timeouts.requestTimeout,
    // A connection silent that long is dropped too: this also ends connections that open
    // and send nothing, which the request timer never sees.
    connectionTimeout: timeouts.requestTimeout,
    // KEEP_ALIVE_TIMEOUT: longer than the load balancer's idle timeout (AWS ALB 60 s, nginx
    // keepalive_timeout 60 s), so the balancer closes an idle connection first and never
    // sends a request on one this server has just closed.
    keepAliveTimeout: config.http.keepAliveTimeout * 1000,
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

/**
 * `tessera serve`: listen, and on SIGTERM or SIGINT close gracefully. At once /readyz
 * answers 503, the listener stops accepting, idle keep-alive connections are closed and
 * every response carries `Connection: close` (the closing plugin); requests in flight finish,
 * then the background workers stop and the pools close (onClose hooks), and the process
 * exits 0. Past SHUTDOWN_TIMEOUT what is left is cut and it exits 1; a second signal exits
 * at once. By default there is no delay before the listener closes: an orchestrator takes
 * the instance out of its load balancer before the signal (a Kubernetes preStop sleep).
 * Where nothing does (nginx in Compose), SHUTDOWN_DELAY keeps accepting for that long
 * first, failing readiness and closing each connection after its response: no kept-alive
 * connection is left for the close to race, only connections still in the accept queue.
 */
export async function serve(): Promise<void> {
  const config = loadConfig();
  const server = await buildServer(config);
  const { shutdownTimeout, shutdownDelay } = config.http;
  let connections = 0;
  server.server.on('connection', (socket: Socket) => {
    connections += 1;
    socket.once('close', () => (connections -= 1));
  });
  closeWithGrace(
    {
      // The delay still accepts; SHUTDOWN_TIMEOUT bounds what comes after it.
      delay: (shutdownDelay + shutdownTimeout) * 1000,
      logger: { error: (err: unknown) => server.log.error({ err }, 'close failed') },
      onTimeout: () =>
        server.log.error(
          { shutdownTimeout, connections },
          'not closed within SHUTDOWN_TIMEOUT: cutting what is left, exiting 1',
        ),
      onSecondSignal: (signal) => server.log.error({ signal }, 'second signal while closing: exiting 1 at once'),
      onSecondError: (err) => server.log.error({ err }, 'second error while closing: exiting 1 at once'),
    },
    async ({ signal, err }) => {
      const began = performance.now();
      if (err) server.log.error({ err }, 'closing after an error');
      else server.log.info({ signal, shutdownTimeout, shutdownDelay }, 'closing');
      if (shutdownDelay > 0) {
        // Lame duck: readiness fails and each response closes its connection, so a balancer
        // without a deregistration hook (nginx's passive health) moves to the other
        // instances over fresh connections, before this one stops accepting.
        server.beginDrain();
        await new Promise((resolve) => setTimeout(resolve, shutdownDelay * 1000));
        // Close right after a poll phase, once Node took what waits in the accept queue:
        // closing the listener resets connections still queued there.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await server.close();
      server.log.info({ ms: Math.round(performance.now() - began) }, 'closed');
    },
  );
  await server.listen({ port: config.port, host: config.host });
  server.log.info({ issuer: config.issuer, database: config.database.kind }, 'tessera ready');
}
