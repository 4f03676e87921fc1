// A real HTTP stand-in for a captcha provider's siteverify API, on 127.0.0.1. Unlike the
// real providers it accepts a good answer any number of times, so that refusing a replay
// is Tessera's own doing.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SiteverifyRequest {
  secret: string | null;
  response: string | null;
  remoteip: string | null;
  sitekey: string | null;
  contentType: string | undefined;
}

export type Mode = 'normal' | 'slow' | 'error' | 'garbage' | 'oversized';

/** What a successful answer carries besides `success: true`; undefined members are left out. */
export interface Verdict {
  hostname?: string;
  score?: unknown;
  action?: unknown;
}

export async function startSiteverify(options: { goodAnswer?: string | RegExp; slowMs?: number } = {}) {
  const received: SiteverifyRequest[] = [];
  let mode: Mode = 'normal';
  let verdict: Verdict = { hostname: 'localhost' };
  const good = options.goodAnswer ?? 'good-answer';
  const read = async (req: IncomingMessage) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    return new URLSearchParams(body);
  };
  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const form = await read(req);
    received.push({
      secret: form.get('secret'),
      response: form.get('response'),
      remoteip: form.get('remoteip'),
      sitekey: form.get('sitekey'),
      contentType: req.headers['content-type'],
    });
    if (mode === 'slow') await new Promise((r) => setTimeout(r, options.slowMs ?? 2000));
    if (mode === 'error') return void res.writeHead(500).end('oops');
    if (mode === 'garbage')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"success": "yes"');
    if (mode === 'oversized')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ success: true, ...verdict, padding: 'x'.repeat(70_000) }));
    const answer = form.get('response') ?? '';
    const success = typeof good === 'string' ? answer === good : good.test(answer);
    const body = success
      ? { success, challenge_ts: new Date().toISOString(), ...verdict }
      : { success, 'error-codes': ['invalid-input-response'] };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    void answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/siteverify`,
    received,
    setMode(next: Mode) {
      mode = next;
    },
    /** Replaces what later successful answers carry. */
    setVerdict(next: Verdict) {
      verdict = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
