import { mkdirSync, writeFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadFleetConfig, locateRegistry } from '@agentbus/fleet';
import { agentbusTopology, applyTopology, detectReplicas, type ApplyReport } from '@agentbus/streams';

export interface UpRegistry {
  path: string;
  /** It did not exist: an empty registry was created there. */
  created: boolean;
  /** The names of the services under watch. */
  services: string[];
}

/**
 * What `agentbus up` needs before any service starts: the agentbus topology applied, and the
 * service registry found and checked (it fails here, with every problem named, rather than in
 * each service). The registry is `registryPath` when given, else ./agentbus.config.json, else
 * `<home>/agentbus.config.json`, created empty when missing.
 */
export async function prepareUp(nc: NatsConnection, options: { registryPath: string | undefined; home: string }): Promise<{ topology: ApplyReport; registry: UpRegistry }> {
  const topology = await applyTopology(nc, agentbusTopology({ replicas: detectReplicas(nc) }));
  const { path, created } = findRegistry(options);
  const fleet = loadFleetConfig(path);
  return { topology, registry: { path, created, services: fleet.services.map((s) => s.name) } };
}

function findRegistry(options: { registryPath: string | undefined; home: string }): { path: string; created: boolean } {
  const { path, exists } = locateRegistry(options);
  // Given by AGENTBUS_CONFIG: loadFleetConfig says it is missing; the one under home is created empty.
  if (exists || options.registryPath) return { path, created: false };
  mkdirSync(options.home, { recursive: true });
  writeFileSync(path, `${JSON.stringify({ version: 1, services: [] }, null, 2)}\n`);
  return { path, created: true };
}
