// Small HTTP helpers for the verifier: bounded JSON reads with a timeout, and the
// Cache-Control max-age a JWKS response asks for.

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * Throws TypeError unless `url` is https:, or http: to this machine (localhost, 127.0.0.0/8,
 * ::1), or http: anywhere with `allowInsecureHttp`. Keys and revocations fetched in clear
 * could be swapped by anyone on the path. The message never repeats the URL.
 */
export function assertSecureUrl(url: string, name: string, allowInsecureHttp: boolean): void {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:'))
    throw new TypeError(`${name} must be an absolute http(s) URL`);
  if (parsed.protocol === 'http:' && !allowInsecureHttp && !isLoopback(parsed.hostname))
    throw new TypeError(`${name} must be https: (http: only on loopback, or with allowInsecureHttp: true)`);
}

/** WHATWG URL has already normalized IPv4 forms (127.1, 0x7f.0.0.1) and IPv6 for http:. */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  /** Parsed body for 2xx responses; undefined otherwise. */
  body: unknown;
}

/** Anything larger is not a JWKS, metadata document or revocation list we want to parse. */
const MAX_RESPONSE_BYTES = 512 * 1024;

export async function fetchJson(
  fetchImpl: FetchLike,
  url: string,
  options: { timeoutMs: number; signal: AbortSignal; headers?: Record<string, string> },
): Promise<JsonResponse> {
  const response = await fetchImpl(url, {
    method: 'GET',
    headers: { accept: 'application/json', ...options.headers },
    // Redirects could lead anywhere; the issuer publishes the exact URLs it serves.
    redirect: 'error',
    signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
  });
  if (response.status < 200 || response.status > 299) {
    await response.body?.cancel().catch(() => undefined);
    return { status: response.status, headers: response.headers, body: undefined };
  }
  const text = await readLimited(response, MAX_RESPONSE_BYTES);
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as unknown };
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error('response too large');
  }
  if (!response.body) return '';
  // fetch bodies are byte streams (Fetch standard), typed ReadableStream<any> by undici.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error('response too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Seconds the response may be cached, from Cache-Control: `no-store`/`no-cache` mean 0,
 * `max-age=N` means N clamped into [min, max], anything else the fallback.
 */
export function cacheSeconds(headers: Headers, fallback: number, min: number, max: number): number {
  const value = headers.get('cache-control');
  if (!value) return fallback;
  const directives = value
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return min;
  const maxAge = directives.find((d) => d.startsWith('max-age='));
  if (!maxAge) return fallback;
  const seconds = Number(maxAge.slice('max-age='.length).replace(/^"(.*)"$/, '$1'));
  if (!Number.isInteger(seconds) || seconds < 0) return fallback;
  return Math.min(max, Math.max(min, seconds));
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
