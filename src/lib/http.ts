// Small reply helpers shared by routes.
import type { FastifyReply, FastifyRequest } from 'fastify';

/** RFC 6749 5.1: token responses must never be cached. */
export function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/**
 * A preValidation hook for action endpoints whose JSON body is optional: a POST with no
 * body at all (as `curl -X POST` sends it) is read as `{}`, so the schema still judges it.
 */
export async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined) request.body = {};
}

/** What a log line may hold of a URL: the path; a query string can carry codes and tokens. */
export function pathOf(url: string): string {
  return (url.split('?', 1)[0] ?? '').slice(0, 200);
}
