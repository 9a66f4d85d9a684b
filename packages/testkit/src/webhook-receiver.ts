import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from '@agentbus/local-nats';

/** One request as the receiver got it. */
export interface ReceivedRequest {
  /** 1 for the first request to this receiver. */
  n: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
  text: string;
  /** The status answered; null when the receiver stayed silent. */
  status: number | null;
}

/** How to answer a request: a status (with an optional body), or `silent` (never answer). */
export type ReceiverAnswer = number | { status: number; body?: string } | 'silent';

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>`: add any path. */
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * A real node:http server on a free loopback port that records every request and answers as
 * `answer` says (default 200). A silent answer keeps the connection open and never responds: the
 * sender's time-out is what ends it. close() destroys every open connection.
 */
export async function startWebhookReceiver(answer: (request: Omit<ReceivedRequest, 'status'>) => ReceiverAnswer = () => 200): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const received = { n: requests.length + 1, method: req.method ?? '', path: req.url ?? '', headers: req.headers, json, text };
      const decision = answer(received);
      if (decision === 'silent') {
        requests.push({ ...received, status: null });
        return;
      }
      const { status, body } = typeof decision === 'number' ? { status: decision, body: '' } : decision;
      requests.push({ ...received, status });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body ?? '');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
