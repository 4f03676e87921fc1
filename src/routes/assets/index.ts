// GET /assets/tessera.css: the hosted pages' one stylesheet, from memory, cacheable by
// anyone (it holds nothing private), with a strong ETag for conditional requests.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { errors } from '../../schemas.js';
import { STYLESHEET_PATH, stylesheet } from '../../pages/stylesheet.js';

const CSS_CONTENT_TYPE = 'text/css; charset=utf-8';

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (typeof ifNoneMatch !== 'string') return false;
  // RFC 9110 13.1.2: weak comparison, and `*` matches any current representation.
  return ifNoneMatch.split(',').some((tag) => {
    const value = tag.trim();
    return value === '*' || value.replace(/^W\//, '') === etag;
  });
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const css = stylesheet();
  app.get(
    STYLESHEET_PATH,
    {
      config: { policy: { public: true } },
      schema: {
        operationId: 'getStylesheet',
        summary: 'The hosted pages’ stylesheet; conditional GET with ETag',
        tags: ['pages'],
        security: [],
        response: {
          200: { description: 'The stylesheet', content: { 'text/css': { schema: Type.String() } } },
          304: Type.Null(),
          ...errors(429),
        },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'public, max-age=86400').header('etag', css.etag);
      if (matches(request.headers['if-none-match'], css.etag)) {
        // No body and no Content-Length on a 304 (RFC 9110 8.6).
        return reply.code(304).send(undefined as never);
      }
      return reply.type(CSS_CONTENT_TYPE).send(css.body as never);
    },
  );
};

export default routes;
