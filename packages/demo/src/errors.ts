export const DemoErrorCodes = {
  /** The demo's directory already exists: the demo makes its own and removes it at the end. */
  demoExists: 'demo-exists',
  /** A demo service process did not stop when told to. */
  demoStopFailed: 'demo-stop-failed',
  /** An option or argument of the demo is out of range (an error rate outside 0..1, a negative delay). */
  invalidOption: 'demo-invalid-option',
} as const;
export type DemoErrorCode = (typeof DemoErrorCodes)[keyof typeof DemoErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    demo: typeof DemoErrorCodes;
  }
}
