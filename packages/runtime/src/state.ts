import type { NatsConnection } from '@nats-io/transport-node';
import { AgentbusError } from '@agentbus/contracts';
import { openStateBackend, StateStore } from '@agentbus/state';

export interface StateSettings {
  AGENTBUS_STATE_BACKEND: 'nats-kv' | 'firestore';
  FIRESTORE_PROJECT_ID?: string | undefined;
  FIRESTORE_EMULATOR_HOST?: string | undefined;
}

/** Opens the versioned state store the settings name, writing as `agent`. */
export async function openStateStore(nc: NatsConnection, settings: StateSettings, agent: string): Promise<StateStore> {
  if (settings.AGENTBUS_STATE_BACKEND === 'firestore') {
    if (!settings.FIRESTORE_PROJECT_ID) {
      throw new AgentbusError('config-invalid', 'FIRESTORE_PROJECT_ID: required when AGENTBUS_STATE_BACKEND=firestore', { hint: 'set FIRESTORE_PROJECT_ID (and FIRESTORE_EMULATOR_HOST for the emulator)' });
    }
    const backend = await openStateBackend({ backend: 'firestore', projectId: settings.FIRESTORE_PROJECT_ID, emulatorHost: settings.FIRESTORE_EMULATOR_HOST });
    return new StateStore({ backend, agent });
  }
  return new StateStore({ backend: await openStateBackend({ backend: 'nats-kv', nc }), agent });
}
