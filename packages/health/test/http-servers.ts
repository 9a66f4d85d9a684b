import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from '@agentbus/local-nats';

/** A real node:http server on a free loopback port, for one test. */
export interface TestServer {
  url: string;
  port: number;
  /** Requests answered so far. */
  requests: number;
  close(): Promise<void>;
}

type Handler = (request: IncomingMessage, response: ServerResponse, n: number) => void;

export async function startServer(handler: Handler, port?: number): Promise<TestServer> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server: Server = createServer((request, response) => handler(request, response, ++requests));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listenPort = port ?? (await freePort());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${listenPort}`,
    port: listenPort,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

/** Healthy: 200 {"status":"ok","checks":{"db":{"ok":true}}}. */
export const healthy: Handler = (_request, response) => json(response, 200, { status: 'ok', checks: { db: { ok: true } } });
