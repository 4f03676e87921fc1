// How a rendered mail leaves: over SMTP to SMTP_URL (smtps:// implicit TLS, smtp:// STARTTLS
// when the server offers it, or always with ?requireTLS=true), certificates verified against
// the system CAs or SMTP_CA_FILE; without SMTP_URL (never in production) as an .eml file
// under DATA_DIR/mail for a developer to open.
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { ConfigError } from '../config/config.js';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import { KIND_HEADER, type RenderedMail } from './messages.js';

export interface MailTransport {
  /** Hands one mail over; rejects when it was not taken. `signal` ends the attempt. */
  send(mail: RenderedMail, id: string, signal: AbortSignal): Promise<void>;
  close(): void;
}

export interface TransportSettings {
  smtpUrl: string | undefined;
  caFile: string | undefined;
  timeoutMs: number;
  dir: string;
}

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** What nodemailer must never take from a message: no file or URL is ever read into a mail. */
const CONTENT_GUARDS = { disableFileAccess: true, disableUrlAccess: true } as const;

export function createMailTransport(settings: TransportSettings, log: Log): MailTransport {
  return settings.smtpUrl ? smtpTransport(settings.smtpUrl, settings, log) : fileTransport(settings.dir, log);
}

function smtpTransport(url: string, settings: TransportSettings, log: Log): MailTransport {
  // Parsed here (the way nodemailer parses it: host, port, auth, ?requireTLS=true, tls.*
  // query keys) so that what security depends on is set after it and wins over the URL.
  const parsed = parseConnectionUrl(url);
  const ca = settings.caFile ? readCa(settings.caFile) : undefined;
  if (!parsed.secure && !parsed.requireTLS) {
    log.warn(
      { event: 'smtp_starttls_optional' },
      'SMTP_URL is smtp:// without requireTLS=true: mail goes unencrypted if the server offers no STARTTLS',
    );
  }
  const transport = nodemailer.createTransport({
    ...parsed,
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
    dnsTimeout: settings.timeoutMs,
    // Certificates are always verified; a private CA is trusted by SMTP_CA_FILE, never by turning that off.
    tls: { ...parsed.tls, ...(ca ? { ca } : {}), rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    logger: false,
    debug: false,
  });
  return {
    async send(mail, _id, signal) {
      await transport.sendMail({ ...mail, ...CONTENT_GUARDS, signal });
    },
    close: () => transport.close(),
  };
}

function readCa(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError('SMTP_CA_FILE', `cannot read ${path}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError('SMTP_CA_FILE', `${path} holds no PEM certificate`);
  return pem;
}

function fileTransport(dir: string, log: Log): MailTransport {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  let ready = false;
  return {
    async send(mail, id, signal) {
      if (!ready) {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        chmodSync(dir, 0o700);
        ready = true;
      }
      const info = await transport.sendMail({ ...mail, ...CONTENT_GUARDS, signal });
      const file = `${new Date().toISOString()}-${id}.eml`;
      await writeFile(join(dir, file), info.message as Buffer, { mode: 0o600, flag: 'wx', signal });
      log.info(
        { event: 'mail_written', file, kind: mail.headers[KIND_HEADER] },
        'mail written as a file (no SMTP_URL)',
      );
    },
    close: () => transport.close(),
  };
}
