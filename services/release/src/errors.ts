export const ReleaseErrorCodes = {
  /**
   * The release names a service the registry does not have or a ref its origin does not have
   * (nothing was merged), or an abort names a release that does not exist.
   */
  releaseInvalid: 'release-invalid',
} as const;

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    release: typeof ReleaseErrorCodes;
  }
}
