// Request bytes and percent-escapes decoded strictly: what is not UTF-8 is refused, never read
// as U+FFFD or kept as literal escapes, either of which makes different inputs one value.
import { TesseraError } from '../errors/errors.js';

// ignoreBOM keeps a leading BOM in the text, as Buffer#toString did before.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A request body as text; bytes that are not UTF-8 are a bad request. */
export function decodeBody(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new TesseraError('invalid_request', { detail: 'body is not UTF-8' });
  }
}

/**
 * The name=value pairs of application/x-www-form-urlencoded text, split as the WHATWG parser
 * splits them; a name or value is undefined when an escape is malformed or not UTF-8.
 */
export function* formPairs(text: string): Generator<[name: string | undefined, value: string | undefined]> {
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    yield eq < 0
      ? [decodeComponent(pair), '']
      : [decodeComponent(pair.slice(0, eq)), decodeComponent(pair.slice(eq + 1))];
  }
}

function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** What an undecodable query name or value reads as: a lone surrogate, which no query schema admits. */
const UNDECODABLE = '\uDC80';

/**
 * The router's query string parser. Names sent twice become arrays, as with Fastify's own
 * parser, which keeps undecodable escapes as literal text (`%FF` and `%25FF` read alike).
 * It runs inside the router's lookup, where a throw is an uncaught exception, not a 400: such
 * a part reads as UNDECODABLE and the route's schema refuses it (routes without one read no query).
 */
export function parseQuery(raw: string): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const [rawName, rawValue] of formPairs(raw)) {
    const name = rawName ?? UNDECODABLE;
    const value = rawValue ?? UNDECODABLE;
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[name] = [seen, value];
  }
  return out;
}
