export { HealthError, HealthErrorCodes, isHealthError, type HealthErrorCode } from './errors.ts';
export { healthCheckSchema, compileChecks, Severities, type Severity, type HealthCheck, type HealthCheckInput } from './check.ts';
export { probeOnce, ProbeErrorKinds, type ProbeErrorKind, type ProbeError, type ProbeResult } from './probe.ts';
export { runProbes, judgeRun, percentile, CheckOutcomes, type CheckOutcome, type ProbeRunOptions, type CheckVerdict, type HealthReport } from './probe-run.ts';
export { waitUntilHealthy, type WaitUntilHealthyOptions, type WaitUntilHealthyResult } from './wait-until-healthy.ts';
export { probeBaseline, type BaselineOptions, type HealthBaseline } from './baseline.ts';
export { toCheckResults } from './check-results.ts';
export { HealthEvidenceStore, evidenceResource, HEALTH_EVIDENCE_BUCKET, evidenceOf, outageSchema, type Evidence, type EvidenceKind, type Outage } from './evidence.ts';
export { metricCheckSchema, prometheusSectionSchema, type MetricCheck, type MetricCheckInput, type PrometheusSection } from './metric-check.ts';
export { FollowupStore, followupsResource, cancelPendingFollowups, followupRecordSchema, sortFollowups, FOLLOWUPS_BUCKET, type FollowupRecord } from './followups.ts';
export { PrometheusClient, type PrometheusAnswer, type PrometheusSeries, type PrometheusQueryOptions } from './prometheus.ts';
export {
  judgeMetric,
  measurementOf,
  captureMetricBaseline,
  runMetricChecks,
  metricsVerdict,
  type MetricMeasurement,
  type MetricJudgeContext,
  type MetricBaselineValue,
  type MetricRunOptions,
} from './metric-run.ts';
