import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ProbeServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  registry: Registry;
  /** Alive: the process works (its NATS connection is not closed for good). */
  healthy(): boolean;
  /** Ready: connected and every consumer bound; a load balancer or supervisor may send work. */
  ready(): boolean;
  /** Extra detail for /readyz (e.g. which consumer is not bound yet). */
  detail?(): Record<string, unknown>;
}

export interface ProbeServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The small HTTP server every service exposes: /metrics (Prometheus), /healthz, /readyz. */
export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': options.registry.contentType });
          res.end(text);
        })
        .catch((error: unknown) => answer(500, { error: String(error) }));
    } else if (path === '/healthz') {
      const ok = options.healthy();
      answer(ok ? 200 : 503, { status: ok ? 'ok' : 'unhealthy' });
    } else if (path === '/readyz') {
      const ok = options.ready();
      answer(ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', ...options.detail?.() });
    } else {
      answer(404, { error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
