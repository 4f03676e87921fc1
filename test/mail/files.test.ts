// Without SMTP_URL (development, tests) each mail becomes an RFC 5322 .eml file under
// DATA_DIR/mail: the folder 0700, the file 0600, one info line naming the file, never the link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { buildServer } from '../../src/server.js';
import { loggerOptions } from '../../src/logger.js';
import { servicesOf, testConfig, uniqueEmail } from '../helpers/build.js';
import { captureLogs } from '../audit/helpers.js';
import { linkFrom } from '../helpers/smtp.js';

test('without SMTP_URL a mail is written as a private .eml file that parses', async (t) => {
  const logs = captureLogs();
  const config = await testConfig({ MAIL_POLL_INTERVAL_MS: '60000' });
  assert.equal(config.mail.smtpUrl, undefined);
  const app = await buildServer(config, { logger: loggerOptions('info', { stream: logs.stream }) });
  await app.ready();
  const services = servicesOf(app, config);
  t.after(() => services.close());

  const to = uniqueEmail('eml');
  const secret = randomBytes(32).toString('base64url');
  const link = `${config.issuer}/verify-email?token=${secret}`;
  await services.db.transaction((tx) =>
    services.mail.queue(tx, { to, kind: 'verify_email', link, expiresInMinutes: 1440 }),
  );
  // The nudged background pass or this one: either way it is written once.
  await services.mailDelivery.runOnce();
  await services.mailDelivery.runOnce();

  const dir = config.mail.dir;
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  const [file] = files as [string];
  assert.match(file, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z-[0-9a-f-]{36}\.eml$/);
  assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600);

  const raw = readFileSync(join(dir, file));
  assert.ok(raw.includes('\r\n') && !/[^\r]\n/.test(raw.toString('latin1')), 'CRLF line ends (RFC 5322)');
  const mail = await simpleParser(raw);
  assert.equal((mail.to as { value: { address: string }[] }).value[0]!.address, to);
  assert.equal(mail.subject, 'Confirm your email address for Tessera');
  assert.equal(linkFrom({ text: mail.text ?? '' }), link);
  assert.match(mail.text ?? '', /expires in 1 day/);
  assert.ok(typeof mail.html === 'string' && mail.html.includes(`href="${link}"`));
  assert.equal(mail.messageId, `<${file.slice(25, -4)}@localhost>`);
  assert.equal((await services.db.query('SELECT 1 FROM mail_outbox')).length, 0);

  const written = logs.records().filter((r) => r.event === 'mail_written');
  assert.equal(written.length, 1);
  assert.equal(written[0]!.file, file);
  assert.equal(written[0]!.level, 30);
  assert.ok(!logs.lines.some((l) => l.includes(secret) || l.includes(to)));
});
