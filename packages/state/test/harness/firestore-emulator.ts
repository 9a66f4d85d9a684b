import { FirestoreServer } from '@firestore-emulator/server';
import { freePort } from '@agentbus/local-nats';

export interface FirestoreEmulator {
  /** `127.0.0.1:<port>`, for FIRESTORE_EMULATOR_HOST or the backend's emulatorHost. */
  host: string;
  stop(): void;
}

/**
 * @firestore-emulator/server in this process on a free port. It does not isolate transactions and
 * has no listCollections/listDocuments/collectionGroup: the backend must not need them.
 */
export async function startFirestoreEmulator(): Promise<FirestoreEmulator> {
  const server = new FirestoreServer();
  const port = await freePort();
  await server.start(port);
  return { host: `127.0.0.1:${port}`, stop: () => server.stop() };
}
