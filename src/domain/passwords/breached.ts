// Breached passwords by k-anonymity (Have I Been Pwned's range API): only the first five
// hex characters of the password's SHA-1 leave the service; the answer lists every known
// suffix under that prefix, and the match is made here. A lookup that cannot be made
// (timeout, network, redirect, non-200, oversized or malformed answer) accepts the
// password: the local policy still applies, and an outage must not stop registrations.
import { createHash } from 'node:crypto';
import { normalizePassword } from './password-policy.js';

export type BreachedResult = 'breached' | 'clean' | 'error';

/** Why a lookup failed: logged and counted, never anything derived from the password. */
export type BreachedLookupFailure = 'timeout' | 'network' | 'status' | 'too_large' | 'malformed';

/** Larger than any real range (about 40 KiB with padding); a bigger answer is refused unread. */
const MAX_RANGE_BYTES = 512 * 1024;

const USER_AGENT = 'tessera-breached-passwords';
const HEX_SUFFIX = /^[0-9A-F]{35}$/;

/** The range prefix (sent) and the suffix (kept) of the SHA-1 of the password as it is stored. */
export function rangeKey(password: string): { prefix: string; suffix: string } {
  const hex = createHash('sha1').update(normalizePassword(password), 'utf8').digest('hex').toUpperCase();
  return { prefix: hex.slice(0, 5), suffix: hex.slice(5) };
}

export class MalformedRangeError extends Error {
  constructor(line: number) {
    super(`range answer line ${line} is not SUFFIX:COUNT`);
    this.name = 'MalformedRangeError';
  }
}

/**
 * How often `suffix` appears in a range answer (`SUFFIX:COUNT` lines, CRLF or LF, suffixes
 * in any case); 0 when absent. Padding entries (count 0) count as absent. Any line that is
 * not a 35-hex suffix and a decimal count makes the whole answer malformed.
 */
export function breachCount(body: string, suffix: string): number {
  const wanted = suffix.toUpperCase();
  let found = 0;
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const colon = line.indexOf(':');
    const candidate = line.slice(0, colon).toUpperCase();
    const count = line.slice(colon + 1);
    if (colon < 0 || !HEX_SUFFIX.test(candidate) || !/^\d{1,12}$/.test(count)) throw new MalformedRangeError(i + 1);
    if (candidate === wanted) found = Number(count);
  }
  return found;
}

export interface BreachedPasswordSettings {
  /** The range API's base URL (BREACHED_PASSWORDS_URL), without the trailing prefix. */
  url: string | undefined;
  timeoutMs: number;
}

export interface BreachedPasswordHooks {
  /** Each lookup's result, for the metric. */
  counted(result: BreachedResult): void;
  /** A lookup that failed and let the password through. */
  failed(reason: BreachedLookupFailure, detail: { status?: number }): void;
}

export class BreachedPasswords {
  private readonly base: URL | undefined;

  constructor(
    private readonly settings: BreachedPasswordSettings,
    private readonly hooks: BreachedPasswordHooks,
  ) {
    this.base = settings.url === undefined ? undefined : new URL(settings.url);
  }

  /** `{url}/{prefix}`: the prefix is the last path segment (a query in the setting stays a query). */
  private rangeUrl(prefix: string): URL {
    const url = new URL(this.base!);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${prefix}`;
    return url;
  }

  get enabled(): boolean {
    return this.base !== undefined;
  }

  /** 'breached' when the range lists the password with a count above 0; undefined when off. */
  async check(password: string): Promise<BreachedResult | undefined> {
    if (this.base === undefined) return undefined;
    const { prefix, suffix } = rangeKey(password);
    const answer = await this.fetchRange(prefix);
    let result: BreachedResult;
    if (typeof answer === 'string') {
      try {
        result = breachCount(answer, suffix) > 0 ? 'breached' : 'clean';
      } catch {
        result = this.fail('malformed', {});
      }
    } else {
      result = this.fail(answer.reason, answer.status === undefined ? {} : { status: answer.status });
    }
    this.hooks.counted(result);
    return result;
  }

  private fail(reason: BreachedLookupFailure, detail: { status?: number }): 'error' {
    this.hooks.failed(reason, detail);
    return 'error';
  }

  /** The range's text, or why there is none. */
  private async fetchRange(prefix: string): Promise<string | { reason: BreachedLookupFailure; status?: number }> {
    const signal = AbortSignal.timeout(this.settings.timeoutMs);
    try {
      const response = await fetch(this.rangeUrl(prefix), {
        method: 'GET',
        // Padding hides the answer's size from anyone watching the wire; a redirect is
        // an error, never followed (it could send the prefix somewhere else).
        headers: { 'add-padding': 'true', accept: 'text/plain', 'user-agent': USER_AGENT },
        redirect: 'manual',
        signal,
      });
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        return { reason: 'status', status: response.status };
      }
      const declared = Number(response.headers.get('content-length') ?? 0);
      if (declared > MAX_RANGE_BYTES) {
        await response.body?.cancel().catch(() => undefined);
        return { reason: 'too_large' };
      }
      return (await readCapped(response, MAX_RANGE_BYTES)) ?? { reason: 'too_large' };
    } catch {
      return { reason: signal.aborted ? 'timeout' : 'network' };
    }
  }
}

/** The body as UTF-8, or undefined once it passes `limit` bytes (the rest is not read). */
async function readCapped(response: Response, limit: number): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
