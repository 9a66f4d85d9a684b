import type { NatsConnection } from '@nats-io/transport-node';
import { BackendKinds, type StateBackend } from './backend.ts';
import { openFirestoreBackend } from './firestore-backend.ts';
import { openNatsKvBackend } from './nats-kv-backend.ts';

/** Which backend to use and how to reach it (the CLI builds this from its validated config). */
export type StateBackendConfig =
  | { backend: typeof BackendKinds.natsKv; nc: NatsConnection; bucket?: string }
  | { backend: typeof BackendKinds.firestore; projectId: string; emulatorHost?: string; databaseId?: string };

export function openStateBackend(config: StateBackendConfig): Promise<StateBackend> {
  return config.backend === BackendKinds.natsKv
    ? openNatsKvBackend({ nc: config.nc, bucket: config.bucket })
    : openFirestoreBackend({ projectId: config.projectId, emulatorHost: config.emulatorHost, databaseId: config.databaseId });
}
