// Polls the issuer for sessions, users and clients that ended and tokens it revoked, so a
// logout, a disabled account or client, or a revoked client token counts at once instead
// of when the access token expires.
import { assertSecureUrl, fetchJson, isObject, type FetchLike } from './http.js';

export interface RevocationOptions {
  clientId: string;
  clientSecret: string;
  /** Seconds between polls; default 30. */
  interval?: number;
  /**
   * Seconds an entry is kept; must be at least the issuer's access token lifetime
   * (ACCESS_TOKEN_TTL). Tokens living longer than this are refused. Default 3600.
   */
  window?: number;
  /** Seconds each poll reaches back before the previous `until`; default 10. */
  overlap?: number;
  /** Default `${issuer}/oauth/revoked`. */
  url?: string;
}

export interface RevocationCounters {
  revocationPolls: number;
  revocationFailures: number;
}

/** How the list reaches the issuer; createVerifier passes its own, defaults suit standalone use. */
export interface RevocationRuntime {
  /** Default the global fetch. */
  fetch?: FetchLike;
  /** Epoch milliseconds; default Date.now. */
  now?: () => number;
  /** Default 5000. */
  timeoutMs?: number;
  /** Aborting it abandons a poll in flight (close() stops the polling). */
  signal?: AbortSignal;
  /** Counted into; default a fresh set. */
  counters?: RevocationCounters;
  onError?: (error: Error) => void;
  /** Allows an http: feed URL off loopback; default false. */
  allowInsecureHttp?: boolean;
}

interface Settings extends Required<Omit<RevocationRuntime, 'onError' | 'allowInsecureHttp'>> {
  url: string;
  authorization: string;
  intervalMs: number;
  window: number;
  overlap: number;
  onError?: (error: Error) => void;
}

/** RFC 6749 2.3.1: client id and secret are form-urlencoded before Basic encoding. */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`, 'utf8').toString('base64')}`;
}

function revocationSettings(issuer: string, options: RevocationOptions, runtime: RevocationRuntime): Settings {
  const { clientId, clientSecret } = options;
  if (typeof clientId !== 'string' || clientId.length === 0)
    throw new TypeError('revocation.clientId must be a non-empty string');
  if (typeof clientSecret !== 'string' || clientSecret.length === 0)
    throw new TypeError('revocation.clientSecret must be a non-empty string');
  const interval = positive(options.interval ?? 30, 'revocation.interval');
  const window = positive(options.window ?? 3600, 'revocation.window');
  const overlap = options.overlap ?? 10;
  if (!Number.isFinite(overlap) || overlap < 0) throw new TypeError('revocation.overlap must be a number >= 0');
  // The client secret travels on every poll: never in clear off this machine unless allowed.
  const url = options.url ?? `${issuer.replace(/\/+$/, '')}/oauth/revoked`;
  assertSecureUrl(url, options.url === undefined ? 'issuer' : 'revocation.url', runtime.allowInsecureHttp === true);
  return {
    fetch: runtime.fetch ?? ((input, init) => fetch(input, init)),
    now: runtime.now ?? Date.now,
    timeoutMs: runtime.timeoutMs ?? 5_000,
    signal: runtime.signal ?? new AbortController().signal,
    counters: runtime.counters ?? { revocationPolls: 0, revocationFailures: 0 },
    ...(runtime.onError ? { onError: runtime.onError } : {}),
    url,
    authorization: basicAuthorization(clientId, clientSecret),
    intervalMs: interval * 1000,
    window,
    overlap,
  };
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new TypeError(`${name} must be a positive number of seconds`);
  return value;
}

export class RevocationList {
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, number>();
  private readonly clients = new Map<string, number>();
  private readonly jtis = new Map<string, number>();
  private since: number;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private closed = false;
  /** Settles after the first poll, whatever its outcome. */
  readonly ready: Promise<void>;
  lastSuccessAt: number | undefined;

  private readonly settings: Settings;

  /** Starts polling at once; throws TypeError on unusable options. */
  constructor(issuer: string, options: RevocationOptions, runtime: RevocationRuntime = {}) {
    this.settings = revocationSettings(issuer, options, runtime);
    this.since = Math.floor(this.settings.now() / 1000) - this.settings.window;
    this.ready = this.start();
  }

  get window(): number {
    return this.settings.window;
  }

  /**
   * Whether the token's session, user or client ended at or after the token was issued,
   * or the token itself (its jti) was revoked.
   */
  isRevoked(claims: { sub: string; sid?: unknown; client_id?: unknown; jti?: unknown; iat: number }): boolean {
    const endedSince = (map: Map<string, number>, id: unknown) => {
      if (typeof id !== 'string') return false;
      const ended = map.get(id);
      return ended !== undefined && ended >= claims.iat;
    };
    if (typeof claims.jti === 'string' && this.jtis.has(claims.jti)) return true;
    return (
      endedSince(this.sessions, claims.sid) ||
      endedSince(this.users, claims.sub) ||
      endedSince(this.clients, claims.client_id)
    );
  }

  /**
   * Polls now; failures keep the lists as they are. A poll already in flight may have
   * been answered before the caller's reason to ask, so it is awaited, then one more runs.
   */
  async poll(): Promise<void> {
    if (this.inflight) await this.inflight;
    return this.start();
  }

  /** Starts a poll, or shares the one in flight. */
  private start(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.inflight) return this.inflight;
    clearTimeout(this.timer);
    this.inflight = this.fetchOnce().finally(() => {
      this.inflight = undefined;
      this.schedule();
    });
    return this.inflight;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  get size(): { sessions: number; users: number; clients: number; jtis: number } {
    return { sessions: this.sessions.size, users: this.users.size, clients: this.clients.size, jtis: this.jtis.size };
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.start(), this.settings.intervalMs);
    // Polling alone never keeps a process alive.
    this.timer.unref();
  }

  private async fetchOnce(): Promise<void> {
    const { counters } = this.settings;
    counters.revocationPolls += 1;
    try {
      const url = new URL(this.settings.url);
      url.searchParams.set('since', String(this.since));
      const response = await fetchJson(this.settings.fetch, url.toString(), {
        timeoutMs: this.settings.timeoutMs,
        signal: this.settings.signal,
        headers: { authorization: this.settings.authorization },
      });
      if (response.status !== 200) throw new Error(`revocation list answered HTTP ${response.status}`);
      const list = parseRevocationList(response.body);
      const merge = (map: Map<string, number>, entries: Entry[]) => {
        for (const { id, endedAt } of entries) map.set(id, Math.max(endedAt, map.get(id) ?? endedAt));
      };
      merge(this.sessions, list.sessions);
      merge(this.users, list.users);
      merge(this.clients, list.clients);
      merge(this.jtis, list.jtis);
      const nowSeconds = Math.floor(this.settings.now() / 1000);
      // Reach back a little before `until` so an entry written at that second is not missed.
      this.since = Math.max(list.until - this.settings.overlap, nowSeconds - this.settings.window);
      this.prune(nowSeconds);
      this.lastSuccessAt = this.settings.now();
    } catch (error) {
      if (this.closed) return;
      counters.revocationFailures += 1;
      this.settings.onError?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** A token issued before now - window is refused anyway, so older entries can go. */
  private prune(nowSeconds: number): void {
    const horizon = nowSeconds - this.settings.window;
    // A revoked jti's token was issued before its entry, so it is past the window too.
    for (const map of [this.sessions, this.users, this.clients, this.jtis]) {
      for (const [id, endedAt] of map) if (endedAt < horizon) map.delete(id);
    }
  }
}

interface Entry {
  id: string;
  endedAt: number;
}

/**
 * `{since, until, sessions: [{sid, ended_at}], users: [{sub, ended_at}], clients:
 * [{client_id, ended_at}], jtis: [{jti, ended_at}]}`; a list an older issuer does not send
 * is empty. Throws on anything else.
 */
function parseRevocationList(body: unknown): {
  until: number;
  sessions: Entry[];
  users: Entry[];
  clients: Entry[];
  jtis: Entry[];
} {
  if (!isObject(body)) throw new Error('revocation list is not an object');
  const { until } = body;
  if (typeof until !== 'number' || !Number.isFinite(until)) throw new Error('revocation list without until');
  const entries = (value: unknown, idName: 'sid' | 'sub' | 'client_id' | 'jti'): Entry[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw new Error(`revocation list ${idName} entries are not an array`);
    return value.map((item) => {
      if (!isObject(item)) throw new Error('revocation entry is not an object');
      const id = item[idName];
      const endedAt = item.ended_at;
      if (typeof id !== 'string' || id.length === 0 || typeof endedAt !== 'number' || !Number.isFinite(endedAt)) {
        throw new Error('revocation entry is malformed');
      }
      return { id, endedAt };
    });
  };
  return {
    until: Math.floor(until),
    sessions: entries(body.sessions, 'sid'),
    users: entries(body.users, 'sub'),
    clients: entries(body.clients, 'client_id'),
    jtis: entries(body.jtis, 'jti'),
  };
}
