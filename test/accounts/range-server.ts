// A breached-password range API in the Have I Been Pwned format on 127.0.0.1, for the
// tests: `GET /range/{5 hex}` answers the suffixes it was told about plus padding lines
// (count 0), CRLF-separated; every request is recorded (method, path, headers, body size).
// Its mode makes it hang, fail, redirect, send a malformed or an oversized answer.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RangeMode = 'answer' | 'hang' | 'fail' | 'redirect' | 'malformed' | 'huge';

export interface RecordedRangeRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
}

export interface RangeServer {
  /** The base URL to configure: `http://127.0.0.1:<port>/range`. */
  url: string;
  requests: RecordedRangeRequest[];
  mode: RangeMode;
  /** Lists the password's suffix with this count (0: a padding entry that matches). */
  list(password: string, count: number): void;
  stop(): Promise<void>;
}

export const sha1Hex = (password: string): string =>
  createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();

const PADDING_LINES = 40;

export async function startRangeServer(): Promise<RangeServer> {
  const listed = new Map<string, Map<string, number>>();
  const requests: RecordedRangeRequest[] = [];
  const state = { mode: 'answer' as RangeMode };
  const server = createServer((request, response) => {
    let bodyBytes = 0;
    request.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    request.on('end', () => {
      requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, bodyBytes });
      const prefix = /^\/range\/([0-9A-F]{5})$/.exec(request.url ?? '')?.[1];
      if (!prefix) return void response.writeHead(404).end();
      switch (state.mode) {
        case 'hang':
          return; // never answers; stop() cuts the socket
        case 'fail':
          return void response.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
        case 'redirect':
          return void response.writeHead(302, { location: `${addressOf()}/elsewhere/${prefix}` }).end();
        case 'malformed':
          return void response.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
        case 'huge': {
          // Streamed without a content-length, well past any real range.
          response.writeHead(200, { 'content-type': 'text/plain' });
          const line = `${'A'.repeat(35)}:1\r\n`.repeat(1000);
          for (let i = 0; i < 40; i += 1) response.write(line);
          return void response.end();
        }
        default:
          break;
      }
      const lines: string[] = [];
      for (const [suffix, count] of listed.get(prefix) ?? []) lines.push(`${suffix}:${count}`);
      for (let i = 0; i < PADDING_LINES; i += 1)
        lines.push(`${randomBytes(18).toString('hex').slice(0, 35).toUpperCase()}:0`);
      lines.sort();
      response.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addressOf = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${addressOf()}/range`,
    requests,
    get mode() {
      return state.mode;
    },
    set mode(mode: RangeMode) {
      state.mode = mode;
    },
    list(password, count) {
      const hex = sha1Hex(password);
      const prefix = hex.slice(0, 5);
      if (!listed.has(prefix)) listed.set(prefix, new Map());
      // Lower case on purpose: suffixes are compared case-insensitively.
      listed.get(prefix)!.set(hex.slice(5).toLowerCase(), count);
    },
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
