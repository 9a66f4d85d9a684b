import { hostname } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { AgentbusError } from '@agentbus/contracts';
import { Bucket } from './kv.ts';

/** The KV bucket of heartbeats and the watchdog's own records (created by `agentbus streams apply`). */
export const WATCHDOG_BUCKET = 'AGENTBUS_WATCHDOG';

export const heartbeatSchema = z.object({
  service: z.string().min(1),
  /** `<host>-<pid>`: one process of the service. */
  instance: z.string().min(1),
  version: z.string(),
  consumers: z.array(z.string()),
  ready: z.boolean(),
  at: z.string(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

const keyPart = (text: string) => text.replace(/[^A-Za-z0-9_=-]/g, '_');

/** This process as a heartbeat's instance. */
export function instanceName(): string {
  return keyPart(`${hostname()}-${process.pid}`);
}

/**
 * Heartbeats: each running service process writes `hb.<service>.<instance>` at a fixed interval
 * and removes it when it stops cleanly; the watchdog reads them all. A process killed leaves its
 * last one behind, growing old: that is how it is found.
 */
export class Heartbeats {
  private constructor(private readonly kv: Bucket) {}

  static async open(nc: NatsConnection, bucket = WATCHDOG_BUCKET): Promise<Heartbeats> {
    try {
      return new Heartbeats(await Bucket.open(nc, bucket, { retryForMs: 2_000 }));
    } catch (error) {
      throw new AgentbusError('watchdog-bucket-missing', `the watchdog bucket ${bucket} is not available`, { cause: error, retryable: true, hint: 'create it with `agentbus streams apply`' });
    }
  }

  /** The bucket itself, for the watchdog's own records beside the heartbeats. */
  get bucket(): Bucket {
    return this.kv;
  }

  async beat(heartbeat: Heartbeat): Promise<void> {
    await this.kv.put(`hb.${keyPart(heartbeat.service)}.${keyPart(heartbeat.instance)}`, JSON.stringify(heartbeat));
  }

  async remove(service: string, instance: string): Promise<void> {
    await this.kv.delete(`hb.${keyPart(service)}.${keyPart(instance)}`);
  }

  /** Every heartbeat there is (a value that does not parse is left out). */
  async list(): Promise<Heartbeat[]> {
    const keys = await this.kv.keys('hb.>');
    const found = await Promise.all(keys.map((key) => this.kv.getParsed(key, heartbeatSchema)));
    return found.filter((heartbeat): heartbeat is Heartbeat => heartbeat !== undefined);
  }
}
