// The public discovery documents (metadata, JWKS) answered from bytes and headers made once
// per change of the document, in the app's first onRequest hook: a plain GET of one of them
// runs nothing else (no CORS, cookie parsing, rate limit, audit context or serializer), only
// what the security headers require. The routes in index.ts serve the same documents for
// everything this leaves to them (HEAD, a query string, a cross-origin request, a draining
// server, whose answers close their connections, plain HTTP in production), so both paths answer with one set of bytes and headers.
//
// Not rate limited: the answer is a copy of bytes already in memory, cheaper than the
// limiter's own bookkeeping (a Redis round trip with REDIS_URL), and holds nothing to guess.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { securityHeaders } from '../../lib/security-headers.js';

/** What a document's source answers: the exact bytes, and an ETag when it has one. */
interface DocumentVersion {
  body: string;
  etag?: string;
}

export interface StaticDocument {
  /** The current version; a new object whenever the document may have changed. */
  current(): DocumentVersion;
  cacheControl: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Serves GET `path` (the full URL path) from the document, before any other hook. */
    serveStaticDocument(path: string, document: StaticDocument): void;
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** RFC 9110 13.1.2: weak comparison, any tag of the list. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

interface Prepared {
  version: DocumentVersion;
  body: Buffer;
  /** [without HSTS, with HSTS] */
  ok: [Record<string, string>, Record<string, string>];
  notModified: [Record<string, string>, Record<string, string>];
}

/** The headers the full route would send for this version, security headers first. */
function prepare(version: DocumentVersion, cacheControl: string): Prepared {
  const body = Buffer.from(version.body, 'utf8');
  const headers = (hsts: boolean, withBody: boolean) => ({
    ...securityHeaders(hsts),
    // @fastify/cors says so on every answer: a cross-origin request is answered otherwise.
    vary: 'Origin',
    'cache-control': cacheControl,
    ...(version.etag === undefined ? {} : { etag: version.etag }),
    ...(withBody ? { 'content-type': JSON_TYPE, 'content-length': String(body.length) } : {}),
  });
  return {
    version,
    body,
    ok: [headers(false, true), headers(true, true)],
    notModified: [headers(false, false), headers(true, false)],
  };
}

export default fp(
  async (app) => {
    const { config } = app;
    const httpsIssuer = config.issuer.startsWith('https:');
    const production = config.env === 'production';
    const documents = new Map<string, { document: StaticDocument; prepared?: Prepared }>();

    app.decorate('serveStaticDocument', (path: string, document: StaticDocument) => {
      documents.set(path, { document });
    });
    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      const entry = request.method === 'GET' ? documents.get(request.url) : undefined;
      // CORS answers depend on the Origin; a draining server's answers close their
      // connection (the closing plugin) and the HTTPS check answers with an error.
      if (entry === undefined || request.headers.origin !== undefined || app.isClosing()) return done();
      if (production && request.protocol !== 'https') return done();
      // HSTS as the helmet plugin decides it.
      const hsts = httpsIssuer || request.protocol === 'https' ? 1 : 0;
      const version = entry.document.current();
      if (entry.prepared?.version !== version) entry.prepared = prepare(version, entry.document.cacheControl);
      const prepared = entry.prepared;
      const ifNoneMatch = request.headers['if-none-match'];
      reply.hijack();
      // The onResponse hooks (metrics, the request log) still run when the answer is written.
      if (version.etag !== undefined && etagMatches(ifNoneMatch, version.etag)) {
        // No body and no Content-Length on a 304 (RFC 9110 8.6).
        reply.raw.writeHead(304, prepared.notModified[hsts]).end();
      } else {
        reply.raw.writeHead(200, prepared.ok[hsts]).end(prepared.body);
      }
    });
  },
  { name: 'static-documents', decorators: { fastify: ['config'] } },
);
