// The issuer's public keys, cached the way the issuer asks (Cache-Control max-age,
// ETag revalidation) and refetched on an unknown kid at most once per cooldown, with
// one fetch in flight shared by every caller. When the issuer is down or answers
// garbage, the last good keys keep serving.
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { VerifierError } from './errors.js';
import { assertSecureUrl, cacheSeconds, fetchJson, isObject, type FetchLike } from './http.js';

/** Bounds on how long a JWKS is trusted without asking again, in seconds. */
const JWKS_MAX_AGE_DEFAULT = 300;
const JWKS_MAX_AGE_MIN = 0;
const JWKS_MAX_AGE_MAX = 24 * 60 * 60;
/** A published set larger than this is not Tessera's. */
const MAX_KEYS = 100;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const KEY_TYPES = new Set(['EC', 'OKP', 'RSA']);

export interface JwksCounters {
  jwksFetches: number;
  jwksNotModified: number;
  jwksFailures: number;
  discoveryFetches: number;
}

export interface JwksCacheOptions {
  issuer: string;
  /** Skips discovery when set. */
  jwksUri?: string;
  /** Default the global fetch. */
  fetch?: FetchLike;
  /** Epoch milliseconds; default Date.now. */
  now?: () => number;
  /** Default 5000. */
  timeoutMs?: number;
  /** Least time between fetches caused by unknown kids; default 30000. */
  cooldownMs?: number;
  /** Aborting it abandons fetches in flight. */
  signal?: AbortSignal;
  /** Counted into; default a fresh set. */
  counters?: JwksCounters;
  onError?: (error: Error) => void;
  /** Allows http: issuer and JWKS URLs off loopback (also a discovered jwks_uri); default false. */
  allowInsecureHttp?: boolean;
}

type Settings = Required<Omit<JwksCacheOptions, 'jwksUri' | 'onError'>> & Pick<JwksCacheOptions, 'onError'>;

export interface PublishedKey {
  jwk: JWK;
  key: CryptoKey;
  /** The key's own alg, which equals the one asked for. */
  alg: string;
}

interface Entry {
  jwk: JWK;
  imported?: Promise<CryptoKey>;
}

export class JwksCache {
  private keys = new Map<string, Entry>();
  private loaded = false;
  private etag: string | undefined;
  private freshUntil = 0;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private lastAttemptFailed = false;
  /** After a failed fetch, no new one starts before this time. */
  private retryAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private jwksUri: string | undefined;
  private readonly options: Settings;

  constructor(options: JwksCacheOptions) {
    const allowInsecureHttp = options.allowInsecureHttp === true;
    assertSecureUrl(options.issuer, 'issuer', allowInsecureHttp);
    if (options.jwksUri !== undefined) assertSecureUrl(options.jwksUri, 'jwksUri', allowInsecureHttp);
    this.jwksUri = options.jwksUri;
    this.options = {
      issuer: options.issuer,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      now: options.now ?? Date.now,
      timeoutMs: options.timeoutMs ?? 5_000,
      cooldownMs: options.cooldownMs ?? 30_000,
      signal: options.signal ?? new AbortController().signal,
      counters: options.counters ?? { jwksFetches: 0, jwksNotModified: 0, jwksFailures: 0, discoveryFetches: 0 },
      allowInsecureHttp,
      ...(options.onError ? { onError: options.onError } : {}),
    };
  }

  /** After a failed fetch, retry sooner than the unknown-kid cooldown, but not on every call. */
  private get retryMs(): number {
    return Math.min(this.options.cooldownMs, 5_000);
  }

  get size(): number {
    return this.keys.size;
  }

  /**
   * The published key for kid, usable with alg; the key's own alg must be exactly alg.
   * A key resolver as it stands: `keys: (kid, alg) => cache.getKey(kid, alg)`.
   */
  async getKey(kid: string, alg: string): Promise<PublishedKey> {
    const now = this.options.now();
    if (!this.loaded) {
      if (this.inflight || now >= this.retryAt) await this.refresh();
    } else if (now >= this.freshUntil) {
      if (!this.lastAttemptFailed) {
        // Expired with a healthy issuer: revalidate before trusting the keys again,
        // so a withdrawn key stops verifying at max-age.
        await this.refresh();
      } else if (!this.inflight && now >= this.retryAt) {
        // The issuer is in trouble: retry in the background and let the stale keys
        // serve meanwhile, so a hanging issuer does not stall every verification.
        void this.refresh();
      }
    }
    let entry = this.keys.get(kid);
    if (!entry) {
      // An unknown kid may mean a rotation: share a fetch already running, else start
      // one if the cooldown allows. A flood of random kids costs one fetch per cooldown.
      if (this.inflight) await this.inflight;
      else if (this.options.now() >= Math.max(this.lastAttemptAt + this.options.cooldownMs, this.retryAt))
        await this.refresh();
      entry = this.keys.get(kid);
    }
    if (!entry) {
      throw this.loaded
        ? new VerifierError('ERR_UNKNOWN_KID', 'no published key has this kid')
        : new VerifierError('ERR_JWKS_UNAVAILABLE', 'the issuer keys could not be fetched');
    }
    // The JWK names the one algorithm it is for: a PS256 header on an RS256 key, or
    // ES384 on a P-256 key, is refused even though the key material would fit.
    if (entry.jwk.alg !== alg)
      throw new VerifierError('ERR_KEY_ALG_MISMATCH', 'the key is published for another algorithm');
    const current = entry;
    current.imported ??= importJWK(current.jwk, current.jwk.alg).then((key) => {
      if (key instanceof Uint8Array) throw new Error('symmetric key in a JWKS');
      return key;
    });
    try {
      return { jwk: current.jwk, key: await current.imported, alg };
    } catch (error) {
      current.imported = undefined;
      throw new VerifierError('ERR_UNKNOWN_KID', 'the published key with this kid is unusable', { cause: error });
    }
  }

  /** Fetches now (sharing a fetch in flight); never throws. */
  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.lastAttemptAt = this.options.now();
    const run = this.load().then((ok) => {
      this.lastAttemptFailed = !ok;
      // Counted from the end of the attempt: a fetch that hung until its timeout
      // must not be followed at once by the next one.
      if (!ok) this.retryAt = this.options.now() + this.retryMs;
    });
    this.inflight = run.finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<boolean> {
    const { counters } = this.options;
    try {
      const uri = this.jwksUri ?? (await this.discover());
      const headers: Record<string, string> = {};
      if (this.loaded && this.etag) headers['if-none-match'] = this.etag;
      counters.jwksFetches += 1;
      const response = await fetchJson(this.options.fetch, uri, {
        timeoutMs: this.options.timeoutMs,
        signal: this.options.signal,
        headers,
      });
      if (response.status === 304 && this.loaded) {
        counters.jwksNotModified += 1;
        this.freshUntil = this.options.now() + this.maxAgeMs(response.headers);
        return true;
      }
      if (response.status !== 200) throw new Error(`JWKS answered HTTP ${response.status}`);
      this.replaceKeys(parseJwks(response.body));
      this.etag = response.headers.get('etag') ?? undefined;
      this.loaded = true;
      this.freshUntil = this.options.now() + this.maxAgeMs(response.headers);
      return true;
    } catch (error) {
      counters.jwksFailures += 1;
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }

  private maxAgeMs(headers: Headers): number {
    return cacheSeconds(headers, JWKS_MAX_AGE_DEFAULT, JWKS_MAX_AGE_MIN, JWKS_MAX_AGE_MAX) * 1000;
  }

  /** RFC 8414 discovery, done once; the metadata must name exactly our issuer. */
  private async discover(): Promise<string> {
    const { issuer } = this.options;
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/oauth-authorization-server`;
    this.options.counters.discoveryFetches += 1;
    const response = await fetchJson(this.options.fetch, url, {
      timeoutMs: this.options.timeoutMs,
      signal: this.options.signal,
    });
    if (response.status !== 200 || !isObject(response.body))
      throw new Error(`discovery answered HTTP ${response.status}`);
    const metadata = response.body;
    if (metadata.issuer !== issuer) throw new Error('discovery metadata names another issuer');
    const jwksUri = metadata.jwks_uri;
    if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri) || !/^https?:$/.test(new URL(jwksUri).protocol)) {
      throw new Error('discovery metadata has no usable jwks_uri');
    }
    // The issuer passed the same check; its metadata must not send the keys over clear text elsewhere.
    assertSecureUrl(jwksUri, 'discovered jwks_uri', this.options.allowInsecureHttp);
    this.jwksUri = jwksUri;
    return jwksUri;
  }

  private replaceKeys(jwks: Map<string, JWK>): void {
    const next = new Map<string, Entry>();
    for (const [kid, jwk] of jwks) {
      const previous = this.keys.get(kid);
      // Keep the imported key when the published material did not change.
      next.set(kid, previous && JSON.stringify(previous.jwk) === JSON.stringify(jwk) ? previous : { jwk });
    }
    this.keys = next;
  }
}

/**
 * The usable verification keys of a JWKS by kid. Throws on a body that is not a JWKS
 * at all (so the cached keys stay); skips single keys that are unfit. A kid that appears
 * twice is ambiguous and dropped.
 */
function parseJwks(body: unknown): Map<string, JWK> {
  if (!isObject(body) || !Array.isArray(body.keys)) throw new Error('not a JWKS');
  if (body.keys.length > MAX_KEYS) throw new Error('JWKS has too many keys');
  const found = new Map<string, JWK>();
  const duplicate = new Set<string>();
  for (const candidate of body.keys) {
    if (!isObject(candidate)) continue;
    const { kid, kty, use, key_ops: keyOps } = candidate;
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) continue;
    if (typeof kty !== 'string' || !KEY_TYPES.has(kty)) continue;
    if (PRIVATE_MEMBERS.some((member) => Object.hasOwn(candidate, member))) continue;
    if (use !== undefined && use !== 'sig') continue;
    if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify'))) continue;
    if (found.has(kid)) duplicate.add(kid);
    found.set(kid, candidate);
  }
  for (const kid of duplicate) found.delete(kid);
  return found;
}
