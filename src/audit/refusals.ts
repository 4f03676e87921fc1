// Refusals worth an audit event (a 403 at a protected route, a bearer or refresh token that
// is forged, of the wrong kind or for someone else), recorded at most AUDIT_REFUSALS_PER_IP per client
// IP in any minute so that a flood cannot drown the log. The limit is an attempt counter
// (Redis when configured, else the database), so instances share it and parallel refusals
// cannot overshoot it; the rest are counted in the metrics and summed, per IP, into one
// refusals_dropped event a minute, which the refusals_ip alert rule counts too.
import type { Counter } from 'prom-client';
import type { Database } from '../db/database.js';
import { ipBucket, type AttemptCounter } from '../defences/attempt-counter.js';
import type { VerifierErrorCode } from '@tessera/verifier';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { TokenInvalidError } from '../tokens/token-service.js';
import { recordSecurityEvent } from './audit-log.js';

type RefusalKind = 'access_denied' | 'token_rejected';

/** Why a bearer token was refused, as token_rejected's detail.reason. */
type RejectionReason =
  'signature' | 'type' | 'unknown_key' | 'algorithm' | 'issuer' | 'audience' | 'claims' | 'malformed';

/**
 * The reason a verifier code amounts to, or null for refusals that are ordinary traffic:
 * an expired or not yet valid token (clocks, a client that refreshes late), and our own
 * key source failing (not the caller's doing).
 */
function rejectionReason(code: VerifierErrorCode): RejectionReason | 'claims_checked' | null {
  switch (code) {
    case 'ERR_SIGNATURE':
      return 'signature';
    case 'ERR_TYP':
      return 'type';
    case 'ERR_UNKNOWN_KID':
    case 'ERR_KEY_REFERENCE_HEADER':
      return 'unknown_key';
    case 'ERR_ALG_NOT_ALLOWED':
    case 'ERR_KEY_ALG_MISMATCH':
      return 'algorithm';
    case 'ERR_TOKEN_MALFORMED':
    case 'ERR_TOKEN_TOO_LARGE':
      return 'malformed';
    // Signed by our key, refused for a claim: which one is for the caller to tell (issuer, audience).
    case 'ERR_CLAIM_INVALID':
      return 'claims_checked';
    case 'ERR_EXPIRED':
    case 'ERR_NOT_YET_VALID':
    case 'ERR_ISSUED_IN_FUTURE':
    case 'ERR_REVOKED':
    case 'ERR_JWKS_UNAVAILABLE':
      return null;
  }
}

/**
 * A header or claim value as the event keeps it: at most `max` characters, no control
 * characters and no lone surrogates (PostgreSQL's jsonb refuses \u0000, and a value the
 * log cannot store would let a forger go unrecorded).
 */
const clipped = (value: unknown, max = 128) =>
  typeof value === 'string'
    ? value.slice(0, max).replace(/\p{Cc}|\p{Cs}/gu, '\uFFFD') // Cs in u-mode: lone surrogates only
    : undefined;

/** What a refused token's header says (never the token itself), when it parses. */
function headerOf(token: string): Record<string, string> {
  try {
    const { kid, alg, typ } = decodeProtectedHeader(token);
    return Object.fromEntries(
      Object.entries({ kid: clipped(kid), alg: clipped(alg, 32), typ: clipped(typ, 64) }).filter(([, v]) => v),
    ) as Record<string, string>;
  } catch {
    return {};
  }
}

/**
 * Why a token signed by our key was refused for a claim. Its signature was checked before
 * any claim, so its payload is ours to read: an issuer or audience that is not ours, or
 * other claims (e.g. a refresh token's); its jti names it.
 */
function claimRefusal(token: string, issuer: string, audiences: readonly string[]) {
  const { iss, aud, jti } = decodeJwt(token);
  const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  const reason: RejectionReason =
    iss !== issuer ? 'issuer' : !auds.some((a) => audiences.includes(a)) ? 'audience' : 'claims';
  return { reason, ...(clipped(jti) ? { jti: clipped(jti) } : {}) };
}

/**
 * token_rejected's detail for a refused token (reason; kid, alg and typ from its header;
 * its jti only when the signature was ours), or null when the refusal is not worth an
 * event: an expired token, or an error that is not a token refusal.
 */
export function describeRejection(
  error: unknown,
  token: string,
  expected: { issuer: string; audiences: readonly string[] },
): Record<string, string> | null {
  if (!(error instanceof TokenInvalidError)) return null;
  const reason = rejectionReason(error.code);
  if (reason === null) return null;
  let claims: Record<string, string> = { reason: reason === 'claims_checked' ? 'claims' : reason };
  try {
    if (reason === 'claims_checked') claims = claimRefusal(token, expected.issuer, expected.audiences);
  } catch {
    // A payload that does not decode after all: "claims" is what is known.
  }
  return { ...claims, ...headerOf(token) };
}

export interface Refusal {
  kind: RefusalKind;
  ip: string;
  userId?: string | null;
  sessionId?: string | null;
  detail: Record<string, unknown>;
}

interface Log {
  warn(obj: object, msg: string): void;
}

/** IPs with drops tallied between two summaries at most; the rest go into one summary without an IP. */
const MAX_TALLIED_IPS = 10_000;
/** After a drop, refusals from that IP are dropped without asking the counter for this long. */
const FULL_FOR_MS = 1000;
/** The limit's window: a sliding minute. */
export const REFUSAL_WINDOW_SECONDS = 60;

interface Tally {
  dropped: number;
  kinds: Partial<Record<RefusalKind, number>>;
}

export class RefusalLog {
  private tallies = new Map<string, Tally>();
  private overflow: Tally = { dropped: 0, kinds: {} };
  /** IP buckets known to be at the limit, until when: a flood costs one counter call a second, not one each. */
  private readonly full = new Map<string, number>();
  /** One warning per summary period when the counter or the log fails, not one per refusal. */
  private warned = false;

  constructor(
    private readonly db: Database,
    private readonly counter: AttemptCounter,
    private readonly limit: number,
    private readonly metric: Counter<'kind' | 'recorded'>,
    private readonly log: Log,
  ) {}

  /** Records the refusal, or counts it when its IP is at the limit. Never throws: the refusal stands either way. */
  async record(r: Refusal): Promise<void> {
    try {
      if (await this.admit(r.ip)) {
        await recordSecurityEvent(this.db, {
          type: r.kind,
          userId: r.userId ?? null,
          sessionId: r.sessionId ?? null,
          ip: r.ip,
          detail: r.detail,
        });
        this.metric.inc({ kind: r.kind, recorded: 'true' });
        return;
      }
      this.tally(r);
    } catch (error) {
      this.tally(r);
      if (!this.warned) this.log.warn({ err: error, kind: r.kind }, 'refusal not recorded; counted in the summary');
      this.warned = true;
    }
  }

  /** One refusals_dropped event per IP for what was dropped since the last summary. */
  async flush(): Promise<void> {
    const tallies = [...this.tallies];
    const overflow = this.overflow;
    this.tallies = new Map();
    this.overflow = { dropped: 0, kinds: {} };
    this.warned = false;
    const now = Date.now();
    for (const [bucket, until] of this.full) if (until <= now) this.full.delete(bucket);
    if (overflow.dropped > 0) tallies.push(['', overflow]);
    for (const [ip, tally] of tallies) {
      await recordSecurityEvent(this.db, {
        type: 'refusals_dropped',
        ip: ip || null,
        actor: null,
        target: null,
        detail: {
          dropped: tally.dropped,
          // A list, not an object keyed by kind: the detail's redaction goes by key name ("token").
          kinds: Object.entries(tally.kinds).map(([kind, dropped]) => ({ kind, dropped })),
          limit: this.limit,
          window_seconds: REFUSAL_WINDOW_SECONDS,
        },
      });
    }
  }

  private async admit(ip: string): Promise<boolean> {
    const bucket = ipBucket(ip);
    const until = this.full.get(bucket);
    if (until !== undefined && until > Date.now()) return false;
    const reserved = await this.counter.reserve([`refusal:${bucket}`], [this.limit]);
    if (reserved) return true;
    if (this.full.size >= MAX_TALLIED_IPS) this.full.clear();
    this.full.set(bucket, Date.now() + FULL_FOR_MS);
    return false;
  }

  private tally(r: Refusal): void {
    this.metric.inc({ kind: r.kind, recorded: 'false' });
    let tally = this.tallies.get(r.ip);
    if (!tally) {
      if (this.tallies.size >= MAX_TALLIED_IPS) tally = this.overflow;
      else this.tallies.set(r.ip, (tally = { dropped: 0, kinds: {} }));
    }
    tally.dropped += 1;
    tally.kinds[r.kind] = (tally.kinds[r.kind] ?? 0) + 1;
  }
}
