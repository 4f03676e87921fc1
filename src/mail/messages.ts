// The mails Tessera sends: what a request may ask for (checked before it is queued and
// again before it is sent) and how each kind is rendered, from Eta templates under
// src/mail/templates/, as a plain-text and an HTML part (every value escaped in the HTML).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Eta } from 'eta/core';
import { packageRoot } from '../pages/package-root.js';

export type MailKind =
  | 'verify_email'
  | 'account_exists'
  | 'password_reset'
  | 'password_changed'
  | 'invitation'
  | 'email_change'
  | 'email_changed'
  | 'account_deleted'
  | 'mfa_reset'
  | 'mfa_changed';

export interface MailRequest {
  to: string;
  kind: MailKind;
  /** The one-time link (under ISSUER) for the kinds that carry one. */
  link?: string;
  /** How long the link works, for the kinds that say so. */
  expiresInMinutes?: number;
}

interface KindSpec {
  subject: (brand: string) => string;
  link: boolean;
  expires: boolean;
}

const KINDS: Readonly<Record<MailKind, KindSpec>> = {
  verify_email: { subject: (b) => `Confirm your email address for ${b}`, link: true, expires: true },
  account_exists: { subject: (b) => `You already have a ${b} account`, link: true, expires: false },
  password_reset: { subject: (b) => `Reset your ${b} password`, link: true, expires: true },
  password_changed: { subject: (b) => `Your ${b} password was changed`, link: false, expires: false },
  invitation: { subject: (b) => `You have been invited to ${b}`, link: true, expires: true },
  email_change: { subject: (b) => `Confirm your new email address for ${b}`, link: true, expires: true },
  email_changed: { subject: (b) => `The email address of your ${b} account was changed`, link: false, expires: false },
  account_deleted: { subject: (b) => `Your ${b} account was deleted`, link: false, expires: false },
  mfa_reset: { subject: (b) => `The second factors of your ${b} account were removed`, link: false, expires: false },
  mfa_changed: { subject: (b) => `The second factors of your ${b} account changed`, link: false, expires: false },
};

export const MAIL_KINDS = Object.keys(KINDS) as readonly MailKind[];

function isMailKind(value: unknown): value is MailKind {
  return typeof value === 'string' && Object.hasOwn(KINDS, value);
}

/** The header that names a mail's kind, for filters at the relay (and tests). */
export const KIND_HEADER = 'X-Mail-Kind';

/** One address, no display name, nothing that could end a header line. */
const ADDRESS = /^[^\s@<>()",;:\\[\]]{1,64}@[^\s@<>()",;:\\[\]]{1,255}$/;
const MAX_EXPIRES_MINUTES = 60 * 24 * 366;

/**
 * Refuses a request that could not become a correct mail: an unknown kind, a bad address,
 * a missing or unexpected link, a link that does not point under ISSUER (a mail must never
 * send someone elsewhere), a missing lifetime. Returns the request as a fresh plain object.
 */
export function checkMailRequest(mail: unknown, issuer: string): MailRequest {
  const m = mail as Partial<Record<keyof MailRequest, unknown>> | null;
  if (typeof m !== 'object' || m === null) throw new Error('a mail request must be an object');
  if (!isMailKind(m.kind)) throw new Error('unknown mail kind');
  const spec = KINDS[m.kind];
  if (typeof m.to !== 'string' || !ADDRESS.test(m.to)) throw new Error(`${m.kind}: the recipient is not an address`);
  const checked: MailRequest = { to: m.to, kind: m.kind };
  if (spec.link) {
    if (typeof m.link !== 'string' || !isUnder(m.link, issuer)) {
      throw new Error(`${m.kind}: the link must be an URL under ISSUER`);
    }
    checked.link = m.link;
  } else if (m.link !== undefined) {
    throw new Error(`${m.kind}: this mail carries no link`);
  }
  if (spec.expires) {
    const minutes = m.expiresInMinutes;
    if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_EXPIRES_MINUTES) {
      throw new Error(`${m.kind}: expiresInMinutes must be a whole number of minutes`);
    }
    checked.expiresInMinutes = minutes;
  } else if (m.expiresInMinutes !== undefined) {
    throw new Error(`${m.kind}: this mail says nothing about expiry`);
  }
  return checked;
}

/** Same origin as the issuer and a path at or below the issuer's path; no credentials, no fragment. */
function isUnder(link: string, issuer: string): boolean {
  let url: URL;
  let base: URL;
  try {
    url = new URL(link);
    base = new URL(issuer);
  } catch {
    return false;
  }
  if (url.origin !== base.origin || url.username || url.password || url.hash || /[\s<>"']/.test(link)) return false;
  const prefix = base.pathname.replace(/\/+$/, '');
  return url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
}

/** "30 minutes", "2 hours", "7 days": the largest unit that says it exactly. */
export function describeMinutes(minutes: number): string {
  const [count, unit] =
    minutes % 1440 === 0 ? [minutes / 1440, 'day'] : minutes % 60 === 0 ? [minutes / 60, 'hour'] : [minutes, 'minute'];
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** What nodemailer is given to send (or to write as an .eml file). */
export interface RenderedMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  headers: Record<string, string>;
}

export interface MailSettings {
  brandName: string;
  issuer: string;
  from: string;
}

export type RenderMail = (mail: MailRequest, id: string) => RenderedMail;

const MAIL_TEMPLATES_DIR = join('src', 'mail', 'templates');

/** Compiles every template once (a missing one stops the start) and returns the renderer. */
export function createMailRenderer(settings: MailSettings): RenderMail {
  const html = new Eta({ autoEscape: true, autoTrim: false, useWith: false, varName: 'it', cache: true });
  if (html.config.escapeFunction(`&<>"'`) !== '&amp;&lt;&gt;&quot;&#39;') {
    throw new Error('the template engine does not escape & < > " \' as expected');
  }
  // The plain part is not HTML: nothing is escaped, and nothing in it is interpreted.
  const text = new Eta({ autoEscape: false, autoTrim: false, useWith: false, varName: 'it', cache: true });
  const dir = join(packageRoot(), MAIL_TEMPLATES_DIR);
  const load = (eta: Eta, name: string, file: string) =>
    eta.loadTemplate(`@${name}`, readFileSync(join(dir, file), 'utf8'));
  for (const name of ['layout', 'link']) load(html, name, `${name}.html.eta`);
  load(text, 'layout', 'layout.txt.eta');
  for (const kind of MAIL_KINDS) {
    load(html, kind, `${kind}.html.eta`);
    load(text, kind, `${kind}.txt.eta`);
  }
  const brand = settings.brandName;
  const host = new URL(settings.issuer).hostname;
  // A header line ends nowhere inside the subject.
  const oneLine = (s: string) => s.replace(/[\r\n\t]+/g, ' ');

  return (request, id) => {
    const mail = checkMailRequest(request, settings.issuer);
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error('a mail id is a uuid');
    const spec = KINDS[mail.kind];
    const subject = oneLine(spec.subject(brand));
    const data = {
      brand,
      link: mail.link,
      expiresIn: mail.expiresInMinutes === undefined ? undefined : describeMinutes(mail.expiresInMinutes),
    };
    const htmlBody = html.render(`@${mail.kind}`, data);
    const textBody = text.render(`@${mail.kind}`, data);
    return {
      from: settings.from,
      to: mail.to,
      subject,
      text: text.render('@layout', { brand, body: textBody.trim() }).trim() + '\n',
      html: html.render('@layout', { brand, subject, body: htmlBody }),
      // The outbox row's id: a mail sent again after a crash carries the same Message-ID.
      messageId: `<${id}@${host}>`,
      headers: { 'Auto-Submitted': 'auto-generated', [KIND_HEADER]: mail.kind },
    };
  };
}
