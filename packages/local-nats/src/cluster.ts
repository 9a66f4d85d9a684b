import { join } from 'node:path';
import { NatsServer } from './server.ts';
import { freePort } from './ports.ts';

export interface NatsClusterOptions {
  /** Parent directory; node i keeps its store in `<baseDir>/n<i>`. */
  baseDir: string;
  size?: number;
  name?: string;
  binary?: string;
  /** Config fragments every node includes (NatsServerOptions.includes). */
  includes?: string[];
}

/** A JetStream cluster of real nats-server processes on loopback (infra/nats/cluster.conf). */
export class NatsCluster {
  readonly servers: NatsServer[];

  private constructor(servers: NatsServer[]) {
    this.servers = servers;
  }

  static async start(options: NatsClusterOptions): Promise<NatsCluster> {
    const size = options.size ?? 3;
    const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const routes = clusterPorts.map((port) => `nats-route://127.0.0.1:${port}`);
    const servers = await Promise.all(
      clusterPorts.map((port, i) =>
        NatsServer.start({
          storeDir: join(options.baseDir, `n${i + 1}`),
          serverName: `n${i + 1}`,
          binary: options.binary,
          cluster: { name: options.name ?? 'agentbus', port, routes },
          readyTimeoutMs: 30_000,
          includes: options.includes,
        }),
      ),
    );
    return new NatsCluster(servers);
  }

  /** Client URLs of every node, for connect({ servers }). */
  get urls(): string[] {
    return this.servers.map((server) => server.url);
  }

  server(index: number): NatsServer {
    const server = this.servers[index];
    if (!server) throw new RangeError(`no node ${index} in a cluster of ${this.servers.length}`);
    return server;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
  }
}
