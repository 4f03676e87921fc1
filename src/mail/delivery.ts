// The outbox worker: every MAIL_POLL_INTERVAL_MS (and at once after a queue() in this
// process) it claims due mails under a lease, opens, renders and sends them. Delivered
// mails are deleted; a failure is retried with exponential backoff, and after 48 hours the
// mail is given up on (deleted, audited as mail_undeliverable). Several instances share
// the table: a claim is one statement with SKIP LOCKED, so no mail is sent twice at once.
import type { Database } from '../db/database.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { claimDueMails, deleteMail, rescheduleMail, type OutboxRow } from '../db/repositories/mail-outbox.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { checkMailRequest, createMailRenderer, type RenderMail, type RenderedMail } from './messages.js';
import { outboxAad } from './outbox.js';
import { createMailTransport, type MailTransport } from './transport.js';

/** Retries: after 30 s, doubling, at most an hour apart; given up on 48 hours after queueing. */
const RETRY = { firstDelaySeconds: 30, maxDelaySeconds: 3600, giveUpAfterSeconds: 48 * 3600 };
/** Mails claimed and sent at once by one instance. */
const BATCH = 5;
/** How long close() waits for sends in flight before it aborts them. */
const CLOSE_WAIT_MS = 5000;

export interface DeliverySettings {
  issuer: string;
  timeoutMs: number;
  pollIntervalMs: number;
}

interface Log {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The delay before attempt `attempts + 1`, after `attempts` failures (at least one). */
export function retryDelaySeconds(attempts: number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 20);
  return Math.min(RETRY.maxDelaySeconds, RETRY.firstDelaySeconds * 2 ** exponent);
}

/**
 * A short reason for last_error and the log: nodemailer's error code and the SMTP reply
 * code, never its message (which may quote the server, the URL or the credentials).
 */
export function describeFailure(error: unknown): string {
  const e = error as { code?: unknown; responseCode?: unknown; name?: unknown; cause?: { code?: unknown } } | null;
  const code = (v: unknown) => (typeof v === 'string' && /^[A-Z][A-Z0-9_]{1,47}$/.test(v) ? v : undefined);
  const parts = [code(e?.code), code(e?.cause?.code)].filter((p): p is string => p !== undefined);
  if (typeof e?.responseCode === 'number' && Number.isInteger(e.responseCode)) parts.push(`SMTP ${e.responseCode}`);
  if (parts.length === 0) parts.push(e?.name === 'AbortError' ? 'aborted' : 'send failed');
  return [...new Set(parts)].join(' ');
}

export class MailDelivery {
  private timer: NodeJS.Timeout | undefined;
  private nudgeTimer: NodeJS.Timeout | undefined;
  /** Passes run one after another; `waiting` says one is already lined up behind the current. */
  private chain: Promise<unknown> = Promise.resolve();
  private waiting = false;
  private closed = false;
  private readonly closing = new AbortController();
  private readonly render: RenderMail;
  /** How long one send may take in all (connect, greeting, TLS, AUTH, DATA). */
  private readonly sendDeadlineMs: number;
  /** A claim outlives the longest send, so a live instance's mail is never taken over. */
  private readonly leaseSeconds: number;

  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    private readonly transport: MailTransport,
    render: RenderMail,
    private readonly settings: DeliverySettings,
    private readonly log: Log,
  ) {
    this.render = render;
    this.sendDeadlineMs = settings.timeoutMs * 4;
    this.leaseSeconds = Math.ceil(this.sendDeadlineMs / 1000) + 60;
  }

  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.schedule(), this.settings.pollIntervalMs);
    this.timer.unref();
    this.schedule();
  }

  /**
   * A mail was queued in this process: look soon instead of at the next poll. Soon, not at
   * once: the caller's transaction commits after queue() returns.
   */
  nudge(): void {
    if (this.closed || !this.timer || this.nudgeTimer) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      this.schedule();
    }, 20);
    this.nudgeTimer.unref();
  }

  /** Sends every mail due now (a pass of its own, after any in flight); returns how many were sent. */
  runOnce(): Promise<number> {
    const pass = this.chain.then(() => this.pass());
    this.chain = pass.catch(() => undefined);
    return pass;
  }

  /** Stops polling and waits for the sends in flight (at most CLOSE_WAIT_MS, then they are aborted). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.nudgeTimer) clearTimeout(this.nudgeTimer);
    let timeout: NodeJS.Timeout | undefined;
    const settled = this.chain.then(() => true);
    const inTime = await Promise.race([
      settled,
      new Promise<false>((resolve) => (timeout = setTimeout(() => resolve(false), CLOSE_WAIT_MS))),
    ]);
    clearTimeout(timeout);
    if (!inTime) {
      this.closing.abort();
      await settled;
    }
    this.transport.close();
  }

  /** A background pass, unless one is already waiting to run (it will see this mail too). */
  private schedule(): void {
    if (this.waiting || this.closed) return;
    this.waiting = true;
    const pass = this.chain.then(() => {
      this.waiting = false;
      return this.closed ? 0 : this.pass();
    });
    this.chain = pass.catch((error: unknown) => this.log.error({ err: error }, 'mail delivery pass failed'));
  }

  private async pass(): Promise<number> {
    let sent = 0;
    while (!this.closed) {
      const rows = await claimDueMails(this.db, BATCH, this.leaseSeconds);
      if (rows.length === 0) break;
      // Every mail of the batch finishes (or fails) before a database error ends the pass;
      // a row whose outcome could not be written stays claimed and is retried after its lease.
      const results = await Promise.allSettled(rows.map((row) => this.deliver(row)));
      sent += results.filter((r) => r.status === 'fulfilled' && r.value).length;
      const failure = results.find((r) => r.status === 'rejected');
      if (failure) throw failure.reason;
      if (rows.length < BATCH) break;
    }
    return sent;
  }

  /** One claimed mail: sent and deleted, or rescheduled, or given up on. Never throws for the mail's sake. */
  private async deliver(row: OutboxRow): Promise<boolean> {
    let mail: RenderedMail;
    try {
      const request = checkMailRequest(
        JSON.parse(this.box.open(row.message, outboxAad(row.id)).toString('utf8')),
        this.settings.issuer,
      );
      mail = this.render(request, row.id);
    } catch {
      // Sealed under a master key this instance lacks, or not a mail we can render: another
      // instance (or this one restarted with MASTER_KEY_PREVIOUS) may still open it.
      await this.failed(row, 'cannot open or render the sealed message');
      return false;
    }
    try {
      await this.transport.send(
        mail,
        row.id,
        AbortSignal.any([AbortSignal.timeout(this.sendDeadlineMs), this.closing.signal]),
      );
    } catch (error) {
      await this.failed(row, describeFailure(error));
      return false;
    }
    await deleteMail(this.db, row.id);
    this.log.info({ event: 'mail_sent', mail_id: row.id, kind: row.kind, attempts: row.attempts + 1 }, 'mail sent');
    return true;
  }

  private async failed(row: OutboxRow, reason: string): Promise<void> {
    const attempts = row.attempts + 1;
    const ageSeconds = (Date.now() - row.created_at.getTime()) / 1000;
    const detail = { mail_id: row.id, kind: row.kind, attempts, reason };
    if (ageSeconds < RETRY.giveUpAfterSeconds) {
      const delay = retryDelaySeconds(attempts);
      await rescheduleMail(this.db, row.id, reason, delay);
      this.log.warn({ event: 'mail_retry', ...detail, retry_in_s: delay }, 'mail not sent; will retry');
      return;
    }
    await this.db.transaction(async (tx) => {
      if (!(await deleteMail(tx, row.id))) return;
      await recordSecurityEvent(tx, {
        type: 'mail_undeliverable',
        actor: null,
        target: row.id,
        detail: { kind: row.kind, attempts, reason },
      });
    });
    this.log.warn({ event: 'mail_undeliverable', ...detail }, 'mail given up on after 48 hours');
  }
}

export interface DeliveryConfig {
  issuer: string;
  pages: { brandName: string };
  mail: {
    smtpUrl: string | undefined;
    caFile: string | undefined;
    from: string;
    timeoutMs: number;
    pollIntervalMs: number;
    dir: string;
  };
}

/** The worker with its transport and templates, from the settings: for the plugin and one-shot commands. */
export function createMailDelivery(db: Database, box: SecretBox, config: DeliveryConfig, log: Log): MailDelivery {
  const { mail, issuer } = config;
  const render = createMailRenderer({ brandName: config.pages.brandName, issuer, from: mail.from });
  const transport = createMailTransport(
    { smtpUrl: mail.smtpUrl, caFile: mail.caFile, timeoutMs: mail.timeoutMs, dir: mail.dir },
    log,
  );
  return new MailDelivery(
    db,
    box,
    transport,
    render,
    { issuer, timeoutMs: mail.timeoutMs, pollIntervalMs: mail.pollIntervalMs },
    log,
  );
}
