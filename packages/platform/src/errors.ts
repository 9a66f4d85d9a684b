export const PlatformErrorCodes = {
  /** A service process the supervisor started did not become ready (it exited, or did not answer /readyz in time). */
  serviceNotReady: 'service-not-ready',
  /** A followed deploy reached no outcome in time. */
  deployTimeout: 'deploy-timeout',
  /** A followed deploy was interrupted (Ctrl-C) before its outcome. */
  interrupted: 'interrupted',
} as const;
export type PlatformErrorCode = (typeof PlatformErrorCodes)[keyof typeof PlatformErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    platform: typeof PlatformErrorCodes;
  }
}
