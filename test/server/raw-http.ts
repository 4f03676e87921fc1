// HTTP/1.1 by hand over one socket, for the shutdown and timeout tests: they decide when
// each byte goes (a request begun before a close, a body that trickles) and read exactly
// what the server wrote, `Connection` header included, which fetch hides.
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawConnection {
  write(text: string): void;
  /** The next whole response the server sent on this connection (framed by content-length). */
  response(): Promise<RawResponse>;
  /** Settles once the connection is closed, by either side. */
  closed: Promise<void>;
  isClosed(): boolean;
  destroy(): void;
}

/** Parses the responses at the start of raw; returns them and the bytes left over. */
function parse(raw: string): { responses: RawResponse[]; rest: string } {
  const responses: RawResponse[] = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (rest.length < end + 4 + length) break;
    responses.push({
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]),
      headers,
      body: rest.slice(end + 4, end + 4 + length),
    });
    rest = rest.slice(end + 4 + length);
  }
  return { responses, rest };
}

export async function openConnection(port: number): Promise<RawConnection> {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let raw = '';
  const ready: RawResponse[] = [];
  const waiting: ((response: RawResponse | undefined) => void)[] = [];
  let isClosed = false;
  socket.setEncoding('latin1');
  socket.on('data', (data: string) => {
    const { responses, rest } = parse(raw + data);
    raw = rest;
    for (const response of responses) {
      const next = waiting.shift();
      if (next) next(response);
      else ready.push(response);
    }
  });
  socket.on('error', () => undefined); // a cut connection shows as closed
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      for (const next of waiting.splice(0)) next(undefined);
      resolve();
    }),
  );
  return {
    write: (text) => socket.write(text),
    response: async () => {
      const response =
        ready.shift() ?? (isClosed ? undefined : await new Promise<RawResponse | undefined>((r) => waiting.push(r)));
      if (!response) throw new Error(`connection closed without a whole response; received ${JSON.stringify(raw)}`);
      return response;
    },
    closed,
    isClosed: () => isClosed,
    destroy: () => socket.destroy(),
  };
}

/** The head of a request with a body of the given length; the body is written separately. */
export function requestHead(method: string, path: string, headers: Record<string, string>, length: number): string {
  const lines = Object.entries({ host: '127.0.0.1', ...headers, 'content-length': String(length) });
  return `${method} ${path} HTTP/1.1\r\n${lines.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

/** Resolves once a new connection to the port is refused: its listener has closed. */
export async function untilRefused(port: number): Promise<void> {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const probe = connect(port, '127.0.0.1');
      probe.once('connect', () => {
        probe.destroy();
        resolve(false);
      });
      probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return;
    await sleep(20);
  }
}
