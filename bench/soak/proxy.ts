// A small round-robin TCP proxy in front of the soak's instances, like an nginx upstream:
// each new client connection goes to the next instance in turn, and only a failed connect
// (the instance is down or restarting) is retried at the next one. A connection that broke
// after it was made is not retried: the client sees the reset, as it would behind nginx.
// Balancing is per connection, so keep-alive clients stay on one instance until their
// connection closes (autocannon's reconnectRate spreads them again).
//
// It also notices a connection the instance closed while a request on it had no answer yet
// (bytes from the client after the instance's last bytes): autocannon quietly sends such a
// request again on a new connection instead of counting an error, so the soak counts them here.
import net from 'node:net';

interface ProxyStats {
  /** Connections made per upstream port. */
  connections: Record<number, number>;
  /** Connect attempts that failed and went on to the next upstream. */
  connectRetries: number;
  /** Client connections closed because no upstream took them. */
  refused: number;
  /** Connections an instance closed with a request unanswered, per upstream port. */
  unanswered: Record<number, number>;
}

export interface Proxy {
  port: number;
  stats: ProxyStats;
  close(): Promise<void>;
}

export async function startProxy(upstreams: number[], onUnanswered: (port: number) => void): Promise<Proxy> {
  const stats: ProxyStats = { connections: {}, connectRetries: 0, refused: 0, unanswered: {} };
  for (const port of upstreams) {
    stats.connections[port] = 0;
    stats.unanswered[port] = 0;
  }
  const open = new Set<net.Socket>();
  let next = 0;

  const server = net.createServer({ noDelay: true }, (client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => undefined);
    client.pause();
    const first = next++ % upstreams.length;
    const attempt = (tries: number) => {
      if (client.destroyed) return;
      if (tries === upstreams.length) {
        stats.refused++;
        client.resetAndDestroy();
        return;
      }
      const port = upstreams[(first + tries) % upstreams.length]!;
      const upstream = net.connect({ port, host: '127.0.0.1', noDelay: true });
      upstream.once('error', () => {
        stats.connectRetries++;
        attempt(tries + 1);
      });
      upstream.once('connect', () => {
        stats.connections[port]!++;
        upstream.removeAllListeners('error');
        open.add(upstream);
        upstream.once('close', () => open.delete(upstream));
        // A reset on one side is passed on as a reset, an orderly close as a close.
        upstream.on('error', () => client.resetAndDestroy());
        client.on('error', () => upstream.resetAndDestroy());
        upstream.once('close', () => client.destroy());
        client.once('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        let awaiting = false;
        let clientGone = false;
        client.on('data', () => (awaiting = true));
        upstream.on('data', () => (awaiting = false));
        client.once('end', () => (clientGone = true));
        client.once('close', () => (clientGone = true));
        upstream.once('close', () => {
          if (!awaiting || clientGone) return;
          stats.unanswered[port]!++;
          onUnanswered(port);
        });
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stats,
    close: () =>
      new Promise((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
