import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { BackendKinds, type StateBackend } from './backend.ts';
import { openFirestoreBackend } from './firestore-backend.ts';
import { openNatsKvBackend } from './nats-kv-backend.ts';
import { StateStore } from './store.ts';

/** Which backend to use and how to reach it. */
export type StateBackendConfig =
  | { backend: typeof BackendKinds.natsKv; nc: NatsConnection; bucket?: string }
  | { backend: typeof BackendKinds.firestore; projectId: string; emulatorHost?: string; databaseId?: string };

export function openStateBackend(config: StateBackendConfig): Promise<StateBackend> {
  return config.backend === BackendKinds.natsKv
    ? openNatsKvBackend({ nc: config.nc, bucket: config.bucket })
    : openFirestoreBackend({ projectId: config.projectId, emulatorHost: config.emulatorHost, databaseId: config.databaseId });
}

/**
 * Where versioned state lives, as environment variables: the one schema of every service that
 * keeps state (stateResource) and of the CLI. Its output names the backend; a Firestore backend
 * without FIRESTORE_PROJECT_ID is an issue on that variable, reported with the others.
 */
export const stateEnvSchema = z
  .object({
    AGENTBUS_STATE_BACKEND: z.enum([BackendKinds.natsKv, BackendKinds.firestore]).default(BackendKinds.natsKv),
    FIRESTORE_PROJECT_ID: z.string().min(1).optional(),
    FIRESTORE_EMULATOR_HOST: z.string().min(1).optional(),
  })
  .transform((env, ctx): StateSettings => {
    if (env.AGENTBUS_STATE_BACKEND === BackendKinds.natsKv) return { backend: BackendKinds.natsKv };
    if (env.FIRESTORE_PROJECT_ID === undefined) {
      ctx.issues.push({
        code: 'custom',
        path: ['FIRESTORE_PROJECT_ID'],
        message: 'required when AGENTBUS_STATE_BACKEND=firestore: the Google Cloud project of the database (and FIRESTORE_EMULATOR_HOST for the emulator)',
        input: env,
      });
      return z.NEVER;
    }
    return { backend: BackendKinds.firestore, projectId: env.FIRESTORE_PROJECT_ID, emulatorHost: env.FIRESTORE_EMULATOR_HOST };
  });

/** The backend stateEnvSchema names. */
export type StateSettings = { backend: typeof BackendKinds.natsKv } | { backend: typeof BackendKinds.firestore; projectId: string; emulatorHost?: string | undefined };

/** Opens the backend the settings name; `nats` is asked for the connection only for nats-kv. */
export async function openStateBackendFrom(settings: StateSettings, nats: () => NatsConnection | Promise<NatsConnection>): Promise<StateBackend> {
  return settings.backend === BackendKinds.natsKv
    ? openStateBackend({ backend: BackendKinds.natsKv, nc: await nats() })
    : openStateBackend({ backend: BackendKinds.firestore, projectId: settings.projectId, emulatorHost: settings.emulatorHost });
}

/**
 * Versioned state as a service resource (@agentbus/runtime's ServiceResource): the store the
 * state variables name, writing as the service, closed when the service stops.
 */
export const stateResource = {
  env: stateEnvSchema,
  async open(settings: StateSettings, ctx: { service: string; nc: NatsConnection; onStop(cleanup: () => Promise<void>): void }): Promise<StateStore> {
    const store = new StateStore({ backend: await openStateBackendFrom(settings, () => ctx.nc), agent: ctx.service });
    ctx.onStop(() => store.close());
    return store;
  },
};
