// Redaction and log formatting as plain functions: secrets by key name at any depth,
// secret-shaped strings anywhere, pretty lines only for a terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { redactDeep, scrubLine, scrubString } from '../../src/lib/redact.js';
import { createLogger, loggerOptions, prettyLine } from '../../src/logger.js';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLWJ5dGVz';

test('secret keys are redacted at any depth; other values stay', () => {
  const out = redactDeep({
    user: { email: 'a@example.com', password: 'p1', profile: { settings: [{ refresh_token: 'r1', theme: 'dark' }] } },
    headers: { Authorization: 'Basic xyz', cookie: 'c=1', 'x-request-id': 'id-1' },
    client_secret: 's1',
    captcha_token: 'ans',
    'g-recaptcha-response': 'ans2',
    current_password: 'p2',
    count: 3,
    nothing: null,
  });
  assert.deepEqual(out, {
    user: {
      email: 'a@example.com',
      password: '[redacted]',
      profile: { settings: [{ refresh_token: '[redacted]', theme: 'dark' }] },
    },
    headers: { Authorization: '[redacted]', cookie: '[redacted]', 'x-request-id': 'id-1' },
    client_secret: '[redacted]',
    captcha_token: '[redacted]',
    'g-recaptcha-response': '[redacted]',
    current_password: '[redacted]',
    count: 3,
    nothing: null,
  });
});

test('secret-shaped strings are scrubbed wherever they appear', () => {
  assert.equal(scrubString(`token ${JWT} in a message`), 'token [redacted] in a message');
  assert.equal(scrubString('Authorization: Bearer abc.def-ghi'), 'Authorization: Bearer [redacted]');
  assert.equal(
    scrubString('GET /x?access_token=abc&page=2&client_secret=s3cr3t'),
    'GET /x?access_token=[redacted]&page=2&client_secret=[redacted]',
  );
  assert.equal(
    scrubString(`Unexpected token 'x', "{"password":"hunter22"}x" is not valid JSON`),
    `Unexpected token 'x', "[redacted]" is not valid JSON`,
  );
  // On a serialized line, nothing crosses a string's quotes.
  assert.equal(
    scrubLine(`{"msg":"refresh_token=${JWT}","n":"password=p4ss"}`),
    '{"msg":"refresh_token=[redacted]","n":"password=[redacted]"}',
  );
});

test('the logger: JSON lines with ISO time, redacted; pretty only for a terminal', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = createLogger('info', { stream: sink });
  log.info({ deep: { deeper: { password: 'p5' } }, note: `Bearer ${JWT}` }, `refresh_token=${JWT}`);
  log.flush?.();
  const record = JSON.parse(lines.join('')) as Record<string, unknown>;
  assert.match(String(record.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.deepEqual(record.deep, { deeper: { password: '[redacted]' } });
  assert.equal(record.note, 'Bearer [redacted]');
  assert.equal(record.msg, 'refresh_token=[redacted]');

  const options = loggerOptions('info', { stream: sink }) as { stream?: unknown };
  assert.equal(options.stream, sink, 'a given stream is used as is');
  const pretty = prettyLine(
    '{"level":40,"time":"2030-01-01T12:34:56.789Z","pid":1,"hostname":"h","reqId":"0123456789ab","msg":"security alert","rule":"refresh_reuse"}',
    false,
  );
  assert.equal(pretty, '12:34:56.789 WARN  [01234567] security alert {"rule":"refresh_reuse"}\n');
});

test('authorization codes, verifiers, state and nonce never reach a log line', () => {
  const location = 'https://app.example/cb?code=Zm9vYmFyYmF6cXV4&state=s-123456&iss=https%3A%2F%2Fid.example';
  assert.equal(
    scrubString(location),
    'https://app.example/cb?code=[redacted]&state=[redacted]&iss=https%3A%2F%2Fid.example',
  );
  assert.equal(
    scrubLine('{"body":"grant_type=authorization_code&code=abcdefgh&code_verifier=xyz12345678&nonce=n0nce"}'),
    '{"body":"grant_type=authorization_code&code=[redacted]&code_verifier=[redacted]&nonce=[redacted]"}',
  );
  // A key named code is an error code (FST_ERR_VALIDATION) and stays; a verifier never does.
  assert.deepEqual(redactDeep({ code: 'FST_ERR_VALIDATION', code_verifier: 'v', zipcode: '12345' }), {
    code: 'FST_ERR_VALIDATION',
    code_verifier: '[redacted]',
    zipcode: '12345',
  });
  // Second factors: what enrolment shows once and what a passkey step sends.
  assert.deepEqual(
    redactDeep({
      recovery_codes: ['k7d2m-x9qpa'],
      otpauth_uri: 'otpauth://totp/x',
      qr_svg: '<svg/>',
      assertion: {},
      kind: 'totp',
    }),
    {
      recovery_codes: '[redacted]',
      otpauth_uri: '[redacted]',
      qr_svg: '[redacted]',
      assertion: '[redacted]',
      kind: 'totp',
    },
  );
});
