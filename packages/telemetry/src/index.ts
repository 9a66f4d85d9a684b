export { createLogger, REDACTED_PATHS, type Logger, type LoggerOptions } from './logger.ts';
export { createMetrics, type ServiceMetrics } from './metrics.ts';
export { startProbeServer, type ProbeServer, type ProbeServerOptions } from './http.ts';
