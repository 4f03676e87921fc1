// A real SMTP server on 127.0.0.1 for tests (the smtp-server package), every message it
// takes parsed with mailparser.
//
//   const smtp = await startSmtp();                          // plain SMTP, no AUTH
//   const smtp = await startSmtp({ tls: 'implicit', auth: { user: 'u', pass: 'p' } });
//   build(t, { SMTP_URL: smtp.url(), ...smtp.env });          // smtp.env: SMTP_CA_FILE with TLS
//   const mail = await smtp.waitFor(email, { kind: 'verify_email' });
//   const link = linkFrom(mail);                              // the one-time link in it
//   smtp.refuse(3);          // the next 3 messages get "451" at DATA (refuse(Infinity), refuse(0))
//   await smtp.stop();  await smtp.restart();                // down and back up, same port
//   smtp.received            // every message taken, in order (duplicates show here)
//
// With TLS the certificate is a fresh self-signed one for 127.0.0.1/localhost; trusting it
// through SMTP_CA_FILE is how the app verifies it (verification stays on).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { selfSigned } from './tls.js';

export interface ReceivedMail {
  /** Envelope recipients (RCPT TO), lower case. */
  to: string[];
  /** Envelope sender (MAIL FROM). */
  from: string;
  subject: string;
  text: string;
  /** The HTML part as sent ('' when there is none). */
  html: string;
  /** Header names in lower case, values as mailparser gives them. */
  headers: Map<string, unknown>;
  /** The message as it came over the wire. */
  raw: string;
  /** The AUTH user the message came with, if any. */
  user: string | undefined;
}

export interface SmtpOptions {
  /** 'implicit': TLS from the first byte (smtps://); 'starttls': offered after EHLO; default none. */
  tls?: 'implicit' | 'starttls';
  /** AUTH PLAIN/LOGIN required, with this user and password. */
  auth?: { user: string; pass: string };
}

export interface TestSmtp {
  port: number;
  /** The SMTP_URL for the app (credentials percent-encoded); pass other credentials to test a wrong password. */
  url(credentials?: { user: string; pass: string }): string;
  /** SMTP_CA_FILE for the app when the server speaks TLS. */
  env: Record<string, string>;
  received: ReceivedMail[];
  /** Failed AUTH attempts (wrong user or password). */
  authFailures: number;
  /** The first message to `to` (matching kind or subject) already taken or arriving within timeoutMs. */
  waitFor(to: string, match?: { kind?: string; subject?: string | RegExp; timeoutMs?: number }): Promise<ReceivedMail>;
  /** Answers the next `count` messages with 451 at DATA (Infinity: until refuse(0)). */
  refuse(count: number): void;
  stop(): Promise<void>;
  /** Listens again on the same port, with the same options and the messages kept. */
  restart(): Promise<void>;
}

export async function startSmtp(options: SmtpOptions = {}): Promise<TestSmtp> {
  const cert = options.tls ? selfSigned() : undefined;
  const received: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let refusals = 0;
  let server: SMTPServer | undefined;
  let port = 0;

  const state = {
    authFailures: 0,
  };

  const serverOptions: SMTPServerOptions = {
    logger: false,
    banner: 'tessera test smtp',
    secure: options.tls === 'implicit',
    ...(cert ? { key: readFileSync(cert.key), cert: readFileSync(cert.cert) } : {}),
    disabledCommands: [...(options.tls ? [] : ['STARTTLS']), ...(options.auth ? [] : ['AUTH'])],
    authOptional: !options.auth,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: !options.tls,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        return callback(null, { user: auth.username });
      }
      state.authFailures += 1;
      const error = Object.assign(new Error('Authentication failed'), { responseCode: 535 });
      return callback(error);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (refusals > 0) {
          refusals -= 1;
          return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw)
          .then((parsed: ParsedMail) => {
            received.push({
              to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              headers: parsed.headers,
              raw,
              user: typeof session.user === 'string' ? session.user : undefined,
            });
            callback();
            for (const wake of waiters) wake();
          })
          .catch((error: Error) => callback(error));
      });
    },
  };

  async function listen(): Promise<void> {
    server = new SMTPServer(serverOptions);
    server.on('error', () => undefined);
    server.listen(port, '127.0.0.1');
    await once(server.server, 'listening');
    port = (server.server.address() as AddressInfo).port;
  }

  await listen();

  const matches = (mail: ReceivedMail, to: string, match: { kind?: string; subject?: string | RegExp }) =>
    mail.to.includes(to.toLowerCase()) &&
    (match.kind === undefined || mail.headers.get('x-mail-kind') === match.kind) &&
    (match.subject === undefined ||
      (typeof match.subject === 'string' ? mail.subject === match.subject : match.subject.test(mail.subject)));

  return {
    get port() {
      return port;
    },
    url(credentials = options.auth) {
      const scheme = options.tls === 'implicit' ? 'smtps' : 'smtp';
      const auth = credentials
        ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.pass)}@`
        : '';
      // STARTTLS is required when the server offers it, so a test never passes over plain text by accident.
      const query = options.tls === 'starttls' ? '?requireTLS=true' : '';
      return `${scheme}://${auth}127.0.0.1:${port}${query}`;
    },
    env: cert ? { SMTP_CA_FILE: cert.cert } : {},
    received,
    get authFailures() {
      return state.authFailures;
    },
    async waitFor(to, match = {}) {
      const timeoutMs = match.timeoutMs ?? 10_000;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find((m) => matches(m, to, match));
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no mail to ${to} (${JSON.stringify(match)}) within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, Math.min(left, 200));
          waiters.add(wake);
        });
      }
    },
    refuse(count) {
      refusals = count;
    },
    async stop() {
      const current = server;
      server = undefined;
      if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    async restart() {
      if (server) throw new Error('the SMTP server is running');
      await listen();
    },
  };
}

/** The one-time link in a mail's plain part (the only http(s) URL Tessera's mails carry). */
export function linkFrom(mail: Pick<ReceivedMail, 'text'>): string {
  const links = [...new Set(mail.text.match(/https?:\/\/[^\s<>"]+/g) ?? [])];
  if (links.length !== 1) throw new Error(`expected one link in the mail, found ${links.length}`);
  return links[0]!;
}
