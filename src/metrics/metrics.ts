// Prometheus metrics (prom-client), one registry per app, so several apps in one process
// (tests) never share counters. Gauges that describe state (hash queue, keys, database
// pool) are read when scraped.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/database.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import { listLiveKeys } from '../db/repositories/signing-keys.js';
import type { RecordedEvent } from '../audit/request-context.js';

export interface MetricSources {
  db: Pick<Database, 'poolStats'> & Parameters<typeof listLiveKeys>[0];
  hasher: Pick<PasswordHasher, 'depth'>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly logins: Counter<'outcome'>;
  readonly tokensIssued: Counter<'grant'>;
  readonly refreshReuse: Counter;
  readonly captcha: Counter<'outcome'>;
  readonly rateLimited: Counter<'route'>;
  readonly securityEvents: Counter<'type' | 'outcome'>;
  readonly refusals: Counter<'kind' | 'recorded'>;
  readonly breachedPasswordChecks: Counter<'result'>;

  constructor(sources: () => MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.logins = new Counter({
      name: 'tessera_logins_total',
      help: 'Password logins by outcome (success, failure, captcha_required, rate_limited)',
      labelNames: ['outcome'],
      registers,
    });
    this.tokensIssued = new Counter({
      name: 'tessera_tokens_issued_total',
      help: 'Token responses by grant (password login, refresh_token, client_credentials)',
      labelNames: ['grant'],
      registers,
    });
    this.refreshReuse = new Counter({
      name: 'tessera_refresh_reuse_total',
      help: 'Retired refresh tokens presented (each ended a session)',
      registers,
    });
    this.captcha = new Counter({
      name: 'tessera_captcha_total',
      help: 'Captcha outcomes at login (demanded, passed, failed)',
      labelNames: ['outcome'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'tessera_rate_limited_total',
      help: 'Requests answered 429 by route pattern',
      labelNames: ['route'],
      registers,
    });
    this.securityEvents = new Counter({
      name: 'tessera_security_events_total',
      help: 'Security events recorded in the audit log, by type and outcome',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.refusals = new Counter({
      name: 'tessera_refusals_total',
      help: 'Refusals worth auditing (access_denied, token_rejected), by whether an event was recorded (false: past AUDIT_REFUSALS_PER_IP)',
      labelNames: ['kind', 'recorded'],
      registers,
    });
    this.breachedPasswordChecks = new Counter({
      name: 'tessera_breached_password_checks_total',
      help: 'New passwords looked up in the breached-password range API, by result (breached, clean, error: accepted)',
      labelNames: ['result'],
      registers,
    });

    new Gauge({
      name: 'tessera_argon2_queue_depth',
      help: 'Password hashes running and waiting for a slot',
      labelNames: ['state'],
      registers,
      collect() {
        const { running, queued } = sources().hasher.depth;
        this.set({ state: 'running' }, running);
        this.set({ state: 'queued' }, queued);
      },
    });
    new Gauge({
      name: 'tessera_db_pool_connections',
      help: 'Database connections: total open, idle, and callers waiting for one',
      labelNames: ['state'],
      registers,
      collect() {
        const stats = sources().db.poolStats();
        this.set({ state: 'total' }, stats.total);
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'in_use' }, Math.max(0, stats.total - stats.idle));
        this.set({ state: 'waiting' }, stats.waiting);
      },
    });
    new Gauge({
      name: 'tessera_signing_key_age_seconds',
      help: 'Age of each live signing key since it was created',
      labelNames: ['purpose', 'state', 'kid'],
      registers,
      async collect() {
        this.reset();
        const now = Date.now();
        for (const key of await listLiveKeys(sources().db)) {
          this.set(
            { purpose: key.purpose, state: key.state, kid: key.kid },
            Math.max(0, (now - key.createdAt.getTime()) / 1000),
          );
        }
      },
    });
  }

  /** Counters that follow from security events recorded during a request. */
  observeEvent(event: RecordedEvent): void {
    this.securityEvents.inc({ type: event.type, outcome: event.outcome });
    switch (event.type) {
      case 'login_success':
        this.logins.inc({ outcome: 'success' });
        break;
      case 'login_failure':
        this.logins.inc({ outcome: 'failure' });
        break;
      case 'captcha_demanded':
        this.captcha.inc({ outcome: 'demanded' });
        this.logins.inc({ outcome: 'captcha_required' });
        break;
      case 'captcha_failed':
        this.captcha.inc({ outcome: 'failed' });
        this.logins.inc({ outcome: 'captcha_required' });
        break;
      case 'captcha_passed':
        this.captcha.inc({ outcome: 'passed' });
        break;
      case 'refresh_reuse':
        this.refreshReuse.inc();
        break;
      default:
        break;
    }
  }

  /** Request-level counters, from the route pattern, status and grant. */
  observeResponse(r: { method: string; route: string; status: number; seconds: number; grant?: string }): void {
    this.httpDuration.observe({ method: r.method, route: r.route, status: String(r.status) }, r.seconds);
    if (r.status === 429) {
      this.rateLimited.inc({ route: r.route });
      if (r.route === '/auth/login') this.logins.inc({ outcome: 'rate_limited' });
    }
    if (r.status === 200 && r.grant) this.tokensIssued.inc({ grant: r.grant });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
