// GET /assets/tessera.css and /assets/passkey.js: the hosted pages' stylesheet and their
// one script, from memory, cacheable by anyone (they hold nothing private), with a strong
// ETag for conditional requests.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { errors } from '../../schemas.js';
import { STYLESHEET_PATH, stylesheet } from '../../pages/stylesheet.js';
import { PASSKEY_SCRIPT_PATH, passkeyScript } from '../../pages/pages.js';

const CSS_CONTENT_TYPE = 'text/css; charset=utf-8';
const JS_CONTENT_TYPE = 'text/javascript; charset=utf-8';

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (typeof ifNoneMatch !== 'string') return false;
  // RFC 9110 13.1.2: weak comparison, and `*` matches any current representation.
  return ifNoneMatch.split(',').some((tag) => {
    const value = tag.trim();
    return value === '*' || value.replace(/^W\//, '') === etag;
  });
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const assets = [
    {
      path: STYLESHEET_PATH,
      asset: stylesheet(),
      type: CSS_CONTENT_TYPE,
      operationId: 'getStylesheet',
      summary: 'The hosted pages’ stylesheet; conditional GET with ETag',
      description: 'The stylesheet',
      mediaType: 'text/css',
    },
    {
      path: PASSKEY_SCRIPT_PATH,
      asset: passkeyScript(),
      type: JS_CONTENT_TYPE,
      operationId: 'getPasskeyScript',
      summary: 'The hosted pages’ passkey button script; conditional GET with ETag',
      description: 'The script',
      mediaType: 'text/javascript',
    },
  ];
  for (const { path, asset, type, operationId, summary, description, mediaType } of assets) {
    app.get(
      path,
      {
        config: { policy: { public: true } },
        schema: {
          operationId,
          summary,
          tags: ['pages'],
          security: [],
          response: {
            200: { description, content: { [mediaType]: { schema: Type.String() } } },
            304: Type.Null(),
            ...errors(429),
          },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'public, max-age=86400').header('etag', asset.etag);
        if (matches(request.headers['if-none-match'], asset.etag)) {
          // No body and no Content-Length on a 304 (RFC 9110 8.6).
          return reply.code(304).send(undefined as never);
        }
        return reply.type(type).send(asset.body as never);
      },
    );
  }
};

export default routes;
