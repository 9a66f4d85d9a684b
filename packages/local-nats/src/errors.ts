export const LocalNatsErrorCodes = {
  /** No runnable nats-server binary (not installed, or not where it was said to be). */
  natsServerMissing: 'nats-server-missing',
  /** nats-server exited while starting, or did not become ready in time. */
  natsServerFailed: 'nats-server-failed',
} as const;
export type LocalNatsErrorCode = (typeof LocalNatsErrorCodes)[keyof typeof LocalNatsErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    localNats: typeof LocalNatsErrorCodes;
  }
}
