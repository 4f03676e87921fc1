// The alert webhook receiver the soak points ALERT_WEBHOOK_URL at: on 127.0.0.1, it answers
// 204 to every POST and counts deliveries by their `webhook-id` header (Standard Webhooks),
// or by the payload's alert `id` when a delivery carries no such header.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Delivery {
  /** The webhook-id header, or `alert:<payload id>` without one. */
  key: string;
  alertId: number | undefined;
  at: number;
  headerId: boolean;
}

export interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Deliveries per key. */
  counts(): Map<string, number>;
  close(): Promise<void>;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  return body;
}

export async function startReceiver(clock: () => number): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const server = createServer((request, response) => {
    void bodyOf(request).then((body) => {
      let alertId: number | undefined;
      try {
        const id = (JSON.parse(body) as { id?: unknown }).id;
        alertId = id === undefined ? undefined : Number(id);
      } catch {
        alertId = undefined;
      }
      const header = request.headers['webhook-id'];
      const headerId = typeof header === 'string' && header.length > 0;
      deliveries.push({ key: headerId ? header : `alert:${alertId}`, alertId, at: clock(), headerId });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    deliveries,
    counts: () => {
      const counts = new Map<string, number>();
      for (const d of deliveries) counts.set(d.key, (counts.get(d.key) ?? 0) + 1);
      return counts;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
