// application/x-www-form-urlencoded, as RFC 6749 asks of the token endpoint. A
// parameter sent twice is an error (RFC 6749 3.2), never silently merged.
import type { FastifyInstance } from 'fastify';
import { TesseraError } from '../errors/errors.js';

export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) {
    if (name in out) throw new TesseraError('invalid_request', { detail: `parameter ${name} repeated` });
    // No RFC 6749 parameter may hold a NUL, and PostgreSQL refuses one with an error.
    if (value.includes('\u0000')) throw new TesseraError('invalid_request', { detail: `parameter ${name} holds a NUL` });
    out[name] = value;
  }
  return { ...out };
}

/** Makes this scope accept form bodies only (JSON and text are refused with 415). */
export function acceptFormBodiesOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
