// Sends a hosted page: HTML, its own CSP in place of the API's `default-src 'none'`, never
// cached, never framed. Helmet's other headers (nosniff ...) stay.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toWireError } from '../errors/error-mapper.js';
import type { Page, Pages } from './pages.js';

export function sendPage(reply: FastifyReply, status: number, page: Page): FastifyReply {
  return (
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('content-security-policy', page.csp)
      .header('cache-control', 'no-store')
      // Helmet's default is SAMEORIGIN; the pages' frame-ancestors 'none' means DENY, and
      // browsers that predate frame-ancestors should hear the same.
      .header('x-frame-options', 'DENY')
      // no-referrer would make browsers send `Origin: null` with the page's own form posts
      // (Fetch 3.2.5), hiding that they are same-origin; same-origin still sends nothing to
      // the client the browser is redirected to.
      .header('referrer-policy', 'same-origin')
      .send(page.html)
  );
}

/**
 * The error handler of the browser-facing routes: the same mapping and log lines as the
 * API's (src/errors/error-mapper.ts), answered as the error page (HTML, never JSON, never
 * a redirect), generic outside, detailed in the log.
 */
export function pageErrorHandler(pages: Pages) {
  return async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const wire = toWireError(error);
    if (wire.status >= 500 && wire.status !== 503) request.log.error({ err: error }, 'request failed');
    else request.log.info({ err: error, code: wire.body.error }, 'request refused');
    for (const [name, value] of Object.entries(wire.headers)) reply.header(name, value);
    const message =
      wire.status === 429
        ? 'Too many requests. Please wait a moment and try again.'
        : wire.status >= 500
          ? 'Something went wrong on our side. Please try again later.'
          : 'The request could not be processed.';
    return sendPage(reply, wire.status, pages.error({ message, error: wire.body.error }));
  };
}

const HTML = { 'text/html': { schema: { type: 'string' } } } as const;

/** A hosted page as an OpenAPI response. */
export const htmlResponse = (description: string) => ({ description, content: HTML });

/** The refusals every browser-facing route may answer, all as the error page. */
export const PAGE_REFUSALS = {
  400: htmlResponse('The error page: a malformed or repeated parameter'),
  413: htmlResponse('The error page: the form is too large'),
  415: htmlResponse('The error page: not a form'),
  429: htmlResponse('The error page: too many requests'),
} as const;
