// The security headers every answer carries, as one set: the helmet plugin's options and
// what helmet itself makes of them, computed once; the helmet plugin copies it onto every
// reply, and answers written where no Fastify hook runs take it from here.
import { createRequire } from 'node:module';
import type { FastifyHelmetOptions } from '@fastify/helmet';

type HelmetOptions = Omit<FastifyHelmetOptions, 'global' | 'enableCSPNonces'>;

export const HELMET_OPTIONS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], frameAncestors: ["'none'"] },
  },
  hsts: false, // per answer: securityHeaders below
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
} satisfies HelmetOptions;

export const HSTS = 'max-age=63072000; includeSubDomains';
/** No token or personal data may sit in a cache unless a route says otherwise. */
const DEFAULT_CACHE_CONTROL = 'no-store';

interface HeaderSink {
  setHeader(name: string, value: string): void;
  removeHeader(name: string): void;
}
// helmet types next's argument as unknown; what it passes is an Error (a CSP directive it refuses).
type Helmet = (options: HelmetOptions) => (req: object, res: HeaderSink, next: (error?: Error) => void) => void;

/** Runs helmet itself, the copy @fastify/helmet loads, so the set cannot drift from the plugin's. */
function helmetHeaders(): Record<string, string> {
  const fastifyHelmetPath = createRequire(import.meta.url).resolve('@fastify/helmet');
  const helmet = createRequire(fastifyHelmetPath)('helmet') as Helmet;
  const headers: Record<string, string> = {};
  const sink: HeaderSink = {
    setHeader: (name, value) => {
      headers[name.toLowerCase()] = value;
    },
    removeHeader: () => undefined,
  };
  helmet(HELMET_OPTIONS)({}, sink, (error) => {
    if (error) throw error;
  });
  return headers;
}

const STATIC_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...helmetHeaders(),
  'cache-control': DEFAULT_CACHE_CONTROL,
});

/** The set for one answer; HSTS when the issuer is https or the answer goes over TLS. */
export function securityHeaders(hsts: boolean): Record<string, string> {
  return hsts ? { ...STATIC_HEADERS, 'strict-transport-security': HSTS } : { ...STATIC_HEADERS };
}
