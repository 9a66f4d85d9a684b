export const CliErrorCodes = {
  /** A bad command line (exit code 2). */
  usage: 'usage',
  /** What the command was asked to show does not exist (an incident without a post-mortem). */
  notFound: 'not-found',
  /** A document under postmortems/ that is not a post-mortem (anyone may write there). */
  notPostmortem: 'not-a-postmortem',
  /** Another agentbus process holds the embedded NATS store. */
  embeddedNatsBusy: 'embedded-nats-busy',
  /** `agentbus up` when agentbus is already up in that home. */
  alreadyUp: 'already-up',
} as const;
export type CliErrorCode = (typeof CliErrorCodes)[keyof typeof CliErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    cli: typeof CliErrorCodes;
  }
}
