// application/x-www-form-urlencoded, as RFC 6749 asks of the token endpoint. A
// parameter sent twice is an error (RFC 6749 3.2), never silently merged. Bytes and escapes
// that are not UTF-8 are refused; NUL and lone surrogates are left to the route schemas.
import type { FastifyInstance } from 'fastify';
import { TesseraError } from '../errors/errors.js';
import { decodeBody, formPairs } from './strict-decode.js';

function parseForm(body: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [name, value] of formPairs(body)) {
    if (name === undefined || value === undefined)
      throw new TesseraError('invalid_request', { detail: 'malformed or non-UTF-8 escape in a parameter' });
    if (name in out) throw new TesseraError('invalid_request', { detail: `parameter ${name} repeated` });
    out[name] = value;
  }
  return { ...out };
}

/** Makes this scope accept form bodies only (JSON and text are refused with 415). */
export function acceptFormBodiesOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseForm(decodeBody(body as Buffer)));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
