// A round-robin HTTP proxy in front of several instances, for tests of restarts under load.
// It does what a load balancer such as nginx does: keep-alive connections to the upstreams
// (closed after 60 s idle, like an AWS ALB, so below KEEP_ALIVE_TIMEOUT), request bodies
// read whole before they are sent (nginx's proxy_request_buffering), an upstream taken out
// when a connection to it fails (unless keepOnFailure) or, with healthCheck, when its
// /readyz is not a 200.
//
// It is honest about retries: a request goes to another upstream only when the connection
// to the first could not be made (ECONNREFUSED, or any error before the TCP connect
// completed), since then not a byte of it was sent. Once a connection carried any of it (a
// new connection that connected, or a reused keep-alive one) an error ends the request
// with a 502, whatever the method: the upstream may have processed it. nginx would also
// retry an idempotent GET whose reused keep-alive connection failed; this proxy does not,
// so a test behind it also sees a GET lost that way.
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';

export interface ProxyOptions {
  /** Base URLs of the upstreams, such as http://127.0.0.1:3001. */
  upstreams: string[];
  /** GET this path on every upstream in rotation every intervalMs; only a 200 keeps one in. */
  healthCheck?: { path: string; intervalMs: number };
  /**
   * An upstream whose connection failed stays healthy: the next request in turn tries it
   * again (nginx's max_fails=0). Otherwise it is out until its health check passes.
   */
  keepOnFailure?: boolean;
}

export interface ProxyStats {
  /** Requests received from clients. */
  requests: number;
  /** Requests passed to the next upstream because a connection could not be made. */
  connectRetries: number;
  /** Requests the proxy answered 502 itself: no upstream left, or an error after sending. */
  badGateway: number;
  /** Of those, errors after sending on a reused keep-alive connection / on a new one. */
  badGatewayReused: number;
  badGatewayFresh: number;
  /** Upstream responses that carried `Connection: close`. */
  connectionClose: number;
  /** Responses each upstream gave. */
  served: Record<string, number>;
}

export interface Proxy {
  url: string;
  stats: ProxyStats;
  /** Takes an upstream out of rotation (an endpoint removed): requests sent to it still finish. */
  remove(upstream: string): void;
  /** Puts it back in rotation, taken for healthy until a connection or a health check fails. */
  add(upstream: string): void;
  /** Whether it gets requests now: in rotation, and healthy. */
  isServing(upstream: string): boolean;
  close(): Promise<void>;
}

interface Upstream {
  url: string;
  host: string;
  port: number;
  inRotation: boolean;
  healthy: boolean;
  checking: boolean;
}

// RFC 9110 7.6.1: connection-specific fields are never forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name)) kept[name] = value;
  }
  return kept;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  const upstreams: Upstream[] = options.upstreams.map((url) => {
    const { hostname, port } = new URL(url);
    return { url, host: hostname, port: Number(port), inRotation: true, healthy: true, checking: false };
  });
  const byUrl = (url: string) => {
    const found = upstreams.find((u) => u.url === url);
    if (!found) throw new Error(`not an upstream: ${url}`);
    return found;
  };
  const stats: ProxyStats = {
    requests: 0,
    connectRetries: 0,
    badGateway: 0,
    badGatewayReused: 0,
    badGatewayFresh: 0,
    connectionClose: 0,
    served: Object.fromEntries(upstreams.map((u) => [u.url, 0])),
  };
  const agent = new http.Agent({ keepAlive: true, timeout: 60_000 });
  let next = 0;

  /** The next upstream in turn that is serving and not yet tried for this request. */
  const pick = (tried: Set<Upstream>): Upstream | undefined => {
    for (let i = 0; i < upstreams.length; i += 1) {
      const candidate = upstreams[(next + i) % upstreams.length]!;
      if (candidate.inRotation && candidate.healthy && !tried.has(candidate)) {
        next = (next + i + 1) % upstreams.length;
        return candidate;
      }
    }
    return undefined;
  };

  const badGateway = (response: ServerResponse, why: string) => {
    stats.badGateway += 1;
    if (response.headersSent) response.destroy();
    else response.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${why}`);
  };

  /** One try at one upstream: 'retry' only when nothing of the request was sent. */
  const forward = (
    target: Upstream,
    request: IncomingMessage,
    body: Buffer,
    response: ServerResponse,
  ): Promise<'done' | 'retry'> =>
    new Promise((resolve) => {
      let connected = false;
      const upstream = http.request({
        agent,
        host: target.host,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: { ...endToEnd(request.headers), 'content-length': String(body.length) },
        timeout: 60_000,
      });
      upstream.on('socket', (socket) => {
        if (upstream.reusedSocket) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      upstream.on('timeout', () => upstream.destroy(new Error('upstream timed out')));
      upstream.on('response', (answer) => {
        stats.served[target.url] = (stats.served[target.url] ?? 0) + 1;
        if (String(answer.headers.connection).toLowerCase() === 'close') stats.connectionClose += 1;
        response.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        // A response cut halfway reaches the client cut too.
        pipeline(answer, response, () => undefined);
        resolve('done');
      });
      upstream.on('error', (error) => {
        if (!connected) {
          // Passive check: out until its health check passes.
          if (!options.keepOnFailure) target.healthy = false;
          resolve('retry');
          return;
        }
        if (upstream.reusedSocket) stats.badGatewayReused += 1;
        else stats.badGatewayFresh += 1;
        badGateway(response, `${target.url}: ${error.message}`);
        resolve('done');
      });
      upstream.end(body);
    });

  const server = http.createServer((request, response) => {
    stats.requests += 1;
    void (async () => {
      const body = await readBody(request);
      const tried = new Set<Upstream>();
      for (let target = pick(tried); target; target = pick(tried)) {
        tried.add(target);
        if ((await forward(target, request, body, response)) === 'done') return;
        stats.connectRetries += 1;
      }
      badGateway(response, 'no upstream could be reached');
    })().catch(() => response.destroy());
  });
  // Longer than any client's idle timeout here, for the same reason as KEEP_ALIVE_TIMEOUT.
  server.keepAliveTimeout = 75_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const check = (target: Upstream, path: string) => {
    if (target.checking || !target.inRotation) return;
    target.checking = true;
    const settle = (healthy: boolean) => {
      target.checking = false;
      target.healthy = healthy;
    };
    // A new connection each time, like a load balancer's checker.
    const probe = http.get({ host: target.host, port: target.port, path, agent: false, timeout: 5_000 }, (answer) => {
      answer.resume();
      answer.on('end', () => settle(answer.statusCode === 200));
      answer.on('error', () => settle(false));
    });
    probe.on('timeout', () => probe.destroy(new Error('health check timed out')));
    probe.on('error', () => settle(false));
  };
  const { healthCheck } = options;
  const checker = healthCheck
    ? setInterval(() => upstreams.forEach((u) => check(u, healthCheck.path)), healthCheck.intervalMs)
    : undefined;

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    remove: (url) => {
      byUrl(url).inRotation = false;
    },
    add: (url) => {
      const target = byUrl(url);
      target.inRotation = true;
      target.healthy = true;
    },
    isServing: (url) => {
      const target = byUrl(url);
      return target.inRotation && target.healthy;
    },
    close: async () => {
      clearInterval(checker);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
