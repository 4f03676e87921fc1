// A real HTTP stand-in for a captcha provider's siteverify API, on 127.0.0.1.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SiteverifyRequest {
  secret: string | null;
  response: string | null;
  remoteip: string | null;
  sitekey: string | null;
  contentType: string | undefined;
}

export type Mode = 'normal' | 'slow' | 'error' | 'garbage';

export async function startSiteverify(options: { goodAnswer?: string; slowMs?: number } = {}) {
  const received: SiteverifyRequest[] = [];
  let mode: Mode = 'normal';
  const read = async (req: IncomingMessage) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    return new URLSearchParams(body);
  };
  const server = createServer(async (req, res) => {
    const form = await read(req);
    received.push({ secret: form.get('secret'), response: form.get('response'), remoteip: form.get('remoteip'), sitekey: form.get('sitekey'), contentType: req.headers['content-type'] });
    if (mode === 'slow') await new Promise((r) => setTimeout(r, options.slowMs ?? 2000));
    if (mode === 'error') return void res.writeHead(500).end('oops');
    if (mode === 'garbage') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"success": "yes"');
    const success = form.get('response') === (options.goodAnswer ?? 'good-answer');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success, ...(success ? {} : { 'error-codes': ['invalid-input-response'] }) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/siteverify`,
    received,
    setMode(next: Mode) {
      mode = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
