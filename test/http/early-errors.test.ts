// Answers written before or outside Fastify's hooks, over a real socket: Node's client
// errors (431, malformed requests, 413 for chunk extensions, 408) and undecodable URLs all
// carry the contract's body and exactly the security headers of a normal 404; a request
// still arriving while the server drains is answered with them too.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { loggerOptions } from '../../src/logger.js';
import { securityHeaders, HSTS } from '../../src/lib/security-headers.js';
import { build } from '../helpers/build.js';
import { selfSigned } from '../helpers/tls.js';
import { captureLogs } from '../audit/helpers.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Per-response bookkeeping, not security: everything else must match the 404's. */
const NOT_SECURITY = new Set([
  'date',
  'connection',
  'keep-alive',
  'content-length',
  'content-type',
  'vary',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
]);

const securityOf = (res: RawResponse) =>
  Object.fromEntries(Object.entries(res.headers).filter(([name]) => !NOT_SECURITY.has(name)));

/** Every response in the bytes a server sent, framed by content-length. */
function parseResponses(raw: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `unterminated head: ${JSON.stringify(rest.slice(0, 200))}`);
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
    assert.ok(status, `status line: ${statusLine}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      assert.equal(headers[name], undefined, `header ${name} sent twice`);
      headers[name] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length']);
    assert.ok(Number.isInteger(length), 'content-length');
    assert.ok(rest.length >= end + 4 + length, 'incomplete body');
    responses.push({ status: Number(status[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return responses;
}

/** Opens a connection, plain or TLS, and resolves once bytes can be sent. */
type Dial = () => Promise<Socket>;

const plain =
  (port: number): Dial =>
  () =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });

const overTls =
  (port: number, ca: Buffer): Dial =>
  () =>
    new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => resolve(socket));
      socket.once('error', reject);
    });

/** Sends the chunks in turn (each after the previous answer, when asked) and reads until the server closes. */
async function exchange(dial: Dial, chunks: string[], { awaitEachAnswer = false } = {}): Promise<RawResponse[]> {
  const socket = await dial();
  return new Promise((resolve, reject) => {
    let received = '';
    let sent = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close after ${JSON.stringify(received.slice(0, 200))}`));
    }, 5_000);
    const sendNext = () => {
      const chunk = chunks[sent++];
      if (chunk !== undefined) socket.write(chunk);
    };
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      received += data;
      if (awaitEachAnswer && parseable(received) === sent) sendNext();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponses(received));
      } catch (error) {
        // parseResponses throws node:assert's AssertionErrors, passed on as they are.
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    if (awaitEachAnswer) sendNext();
    else chunks.forEach(() => sendNext());
  });
}

/** How many whole responses the bytes hold so far. */
function parseable(raw: string): number {
  try {
    return parseResponses(raw).length;
  } catch {
    return -1;
  }
}

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

async function notFound(dial: Dial): Promise<RawResponse> {
  const [res] = await exchange(dial, ['GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n']);
  assert.ok(res);
  assert.equal(res.status, 404);
  return res;
}

function assertContractAnswer(
  res: RawResponse | undefined,
  reference: RawResponse,
  status: number,
  error: string,
  description: string,
) {
  assert.ok(res, 'an answer');
  assert.equal(res.status, status);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(JSON.parse(res.body), { error, error_description: description });
  assert.equal(res.headers.connection?.toLowerCase(), 'close');
  assert.deepEqual(securityOf(res), securityOf(reference), `${status}: the security headers of a normal 404`);
}

/** Fails if a log line holds the text, or the bytes of it as a serialized Buffer shows them. */
function assertNotLogged(lines: string[], secret: string) {
  const bytes = Buffer.from(secret).join(',');
  for (const text of lines) assert.ok(!text.includes(secret) && !text.includes(bytes), text);
}

function withLogs(t: TestContext, env: Record<string, string> = {}) {
  const logs = captureLogs();
  return { logs, built: build(t, env, { logger: loggerOptions('info', { stream: logs.stream }) }) };
}

const TOO_LARGE = 'The request headers are too large';
const MALFORMED = 'The request is missing a parameter or is malformed';

test('headers over 16 KiB: 431 in the contract shape, the 404 security headers, nothing of the request logged', async (t) => {
  const { logs, built } = withLogs(t);
  const { app } = await built;
  const port = await listen(app);
  const reference = await notFound(plain(port));
  // Not vacuous: the 404 carries the set, and it is the module's set, so the two cannot drift.
  assert.equal(
    reference.headers['content-security-policy'],
    "default-src 'none';base-uri 'none';frame-ancestors 'none'",
  );
  assert.equal(reference.headers['x-frame-options'], 'SAMEORIGIN');
  assert.equal(reference.headers['strict-transport-security'], undefined);
  assert.deepEqual(securityOf(reference), securityHeaders(false));

  const secret = 'Bearer raw-packet-secret-7f3a91';
  const [res, ...more] = await exchange(plain(port), [
    `GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${secret}\r\nX-Filler: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
  ]);
  assertContractAnswer(res, reference, 431, 'headers_too_large', TOO_LARGE);
  assert.equal(more.length, 0);
  const line = logs.records().find((r) => r.msg === 'client error');
  assert.ok(line, 'a log line');
  assert.equal(line.level, 30);
  assert.equal(line.code, 'headers_too_large');
  assert.equal(line.reason, 'HPE_HEADER_OVERFLOW');
  assertNotLogged(logs.lines, 'raw-packet-secret');
});

test('malformed requests, long chunk extensions, undecodable URLs: the contract shape, the 404 security headers', async (t) => {
  const { logs, built } = withLogs(t);
  const { app } = await built;
  const port = await listen(app);
  const reference = await notFound(plain(port));
  for (const raw of [
    'NOT A REQUEST LINE\r\n\r\n',
    'GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer raw-packet-secret-b41c\r\nBad Header: x\r\n\r\n',
  ]) {
    const [res, ...more] = await exchange(plain(port), [raw]);
    assertContractAnswer(res, reference, 400, 'invalid_request', MALFORMED);
    assert.equal(more.length, 0);
  }
  assert.ok(
    logs
      .records()
      .some(
        (r) =>
          r.msg === 'client error' &&
          r.code === 'invalid_request' &&
          typeof r.reason === 'string' &&
          r.reason.startsWith('HPE_'),
      ),
  );
  assertNotLogged(logs.lines, 'raw-packet-secret-b41c');

  // A chunk extension over Node's 16 KiB limit, in a body a route is waiting for.
  const [tooLong] = await exchange(plain(port), [
    `POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;x=${'a'.repeat(17 * 1024)}\r\n{}\r\n0\r\n\r\n`,
  ]);
  assertContractAnswer(tooLong, reference, 413, 'payload_too_large', 'The request body is too large');

  // After a finished keep-alive response the connection is free again, so it is answered.
  const [first, second] = await exchange(
    plain(port),
    ['GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'NOT A REQUEST LINE\r\n\r\n'],
    { awaitEachAnswer: true },
  );
  assert.equal(first?.status, 404);
  assertContractAnswer(second, reference, 400, 'invalid_request', MALFORMED);

  // Fastify's frameworkErrors path (no hooks run there).
  const [badUrl] = await exchange(plain(port), [
    'GET /admin/users/%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
  ]);
  assertContractAnswer(badUrl, reference, 400, 'invalid_request', MALFORMED);
});

async function assertHstsOnEarlyAnswers(dial: Dial) {
  const reference = await notFound(dial);
  assert.equal(reference.headers['strict-transport-security'], HSTS);
  const [tooLarge] = await exchange(dial, [
    `GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
  ]);
  assertContractAnswer(tooLarge, reference, 431, 'headers_too_large', TOO_LARGE);
  const [malformed] = await exchange(dial, ['NOT A REQUEST LINE\r\n\r\n']);
  assertContractAnswer(malformed, reference, 400, 'invalid_request', MALFORMED);
  const [badUrl] = await exchange(dial, [
    'GET /admin/users/%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
  ]);
  assertContractAnswer(badUrl, reference, 400, 'invalid_request', MALFORMED);
}

test('HSTS on early answers when the issuer is https', async (t) => {
  const { app } = await build(t, { ISSUER: 'https://id.example.com' });
  await assertHstsOnEarlyAnswers(plain(await listen(app)));
});

test('HSTS on early answers over TLS, with an http issuer', async (t) => {
  const { cert, key } = selfSigned();
  const { app } = await build(t, { TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
  await assertHstsOnEarlyAnswers(overTls(await listen(app), readFileSync(cert)));
});

test('a request timeout: 408 in the contract shape', async (t) => {
  const { app } = await build(t);
  const port = await listen(app);
  const reference = await notFound(plain(port));
  // The request timeout is 30 s and Node checks it every 30 s, so the test raises on the
  // real server, for a real connection, the error Node's timeout check raises.
  const accepted = new Promise<Socket>((resolve) => app.server.once('connection', resolve));
  const answer = exchange(plain(port), ['GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n']);
  const serverSide = await accepted;
  await new Promise((resolve) => setTimeout(resolve, 50));
  app.server.emit(
    'clientError',
    Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
    serverSide,
  );
  const [res] = await answer;
  assertContractAnswer(res, reference, 408, 'request_timeout', 'The request took too long to arrive');
});

test('while the server drains: a request begun before close() is answered, the 404 security headers', async (t) => {
  const { app } = await build(t);
  const port = await listen(app);
  const reference = await notFound(plain(port));
  // A request begun before close() keeps its connection open; it completes after.
  const [head, end] = ['GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n', '\r\n'];
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.setEncoding('latin1').on('data', (data: string) => (received += data));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write(head);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closing = app.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.write(end);
  await closed;
  await closing;
  const [res] = parseResponses(received);
  assert.ok(res, 'an answer');
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), { status: 'ok' });
  assert.equal(res.headers.connection?.toLowerCase(), 'close');
  assert.deepEqual(securityOf(res), securityOf(reference), 'the security headers of a normal 404');
});

test('the 404 and bad-URL log lines hold the path, not the query', async (t) => {
  const { logs, built } = withLogs(t);
  const { app } = await built;
  // `code` is not a name the log redactor knows; only dropping the query keeps it out.
  const res = await app.inject({ method: 'GET', url: '/nope?token=secret123&code=secret456' });
  assert.equal(res.statusCode, 404);
  const line = logs.records().find((r) => r.msg === 'request refused' && r.code === 'not_found');
  assert.ok(line, 'the 404 log line');
  assert.equal((line.err as { message?: string }).message, 'GET /nope');
  const badUrl = await app.inject({ method: 'GET', url: '/admin/users/%E0%A4%A?code=secret789' });
  assert.equal(badUrl.statusCode, 400);
  const badLine = logs.records().find((r) => r.msg === 'request refused' && r.code === 'invalid_request');
  assert.ok(badLine, 'the bad-URL log line');
  assert.equal((badLine.err as { message?: string }).message, 'FST_ERR_BAD_URL GET /admin/users/%E0%A4%A');
  for (const secret of ['secret123', 'secret456', 'secret789']) assertNotLogged(logs.lines, secret);
});
