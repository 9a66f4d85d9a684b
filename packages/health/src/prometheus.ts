import { safeLine } from '@agentbus/contracts';
import { HealthError } from './errors.ts';
import type { PrometheusSection } from './metric-check.ts';
import { throwIfAborted } from './probe-run.ts';

export interface PrometheusQueryOptions {
  /** Evaluate the query at this time (a Date, or milliseconds since the epoch as Date.now() gives). Default: Prometheus' now. */
  at?: Date | number;
  /** Aborting rejects the query with HealthError `probe-aborted`. */
  signal?: AbortSignal;
}

/** One series of an instant query: its labels (without `__name__`) and its value. */
export interface PrometheusSeries {
  labels: Record<string, string>;
  /** NaN, +Infinity and -Infinity come as those numbers (Prometheus sends them as strings). */
  value: number;
}

export interface PrometheusAnswer {
  /** What Prometheus returned: an instant vector or a scalar (a scalar is one series with no labels). */
  resultType: 'vector' | 'scalar';
  /** Empty: no data (also an unknown metric, or a time before any sample). */
  series: PrometheusSeries[];
}

/** The most of an answer's body read: a check's answer is a few series; more is a query to aggregate. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
/** Our HTTP wait exceeds Prometheus' own `timeout` by this much, so that its 503 answer (with its reason) arrives first. */
const TIMEOUT_GRACE_MS = 1_000;
const QUERY_HINT = 'fix the check\'s query in the registry (try it in the Prometheus UI or with promtool); it is not retried';
const SERVER_HINT = 'is Prometheus running and is the registry\'s prometheus.url its base URL? The query is retried';

/**
 * Instant queries through the Prometheus HTTP API (`GET /api/v1/query`), one fresh request each.
 * `query` resolves to the series or throws HealthError: `prometheus-unreachable` (no answer;
 * retryable), `prometheus-query-failed` (Prometheus refused the query: its own words are in the
 * message; not retryable), `prometheus-error` (5xx, not Prometheus' JSON; retryable), or
 * `probe-aborted` when `signal` aborts. Everything it quotes from an answer is made safe and bounded.
 */
export class PrometheusClient {
  private readonly endpoint: string;

  constructor(private readonly section: PrometheusSection) {
    this.endpoint = `${section.url.replace(/\/+$/, '')}/api/v1/query`;
  }

  get url(): string {
    return this.section.url;
  }

  async query(expr: string, options: PrometheusQueryOptions = {}): Promise<PrometheusAnswer> {
    throwIfAborted(options.signal);
    const params = new URLSearchParams({ query: expr, timeout: `${this.section.timeoutMs}ms` });
    if (options.at !== undefined) params.set('time', unixSeconds(options.at));
    const timeout = AbortSignal.timeout(this.section.timeoutMs + TIMEOUT_GRACE_MS);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const where = new URL(this.endpoint).host;

    let status: number;
    let body: string;
    try {
      const response = await fetch(`${this.endpoint}?${params}`, { headers: { accept: 'application/json' }, signal });
      status = response.status;
      body = await readBounded(response);
    } catch (error) {
      throwIfAborted(options.signal);
      if (error instanceof HealthError) throw error;
      throw unreachable(error, where, this.section.timeoutMs + TIMEOUT_GRACE_MS, timeout.aborted);
    }
    return parseAnswer(status, body, where);
  }
}

function unixSeconds(at: Date | number): string {
  const ms = typeof at === 'number' ? at : at.getTime();
  return (ms / 1_000).toFixed(3);
}

/** The body as text, refusing past MAX_ANSWER_BYTES (the read is cancelled there). */
async function readBounded(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new HealthError('prometheus-query-failed', `Prometheus' answer is larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB: the query returns far too many series for a check`, {
        hint: 'aggregate the query to one number (sum(...), max(...)) or, for newSeries, count by the label that names the type',
      });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function unreachable(error: unknown, where: string, waitedMs: number, timedOut: boolean): HealthError {
  const code = networkCode(error);
  const message = timedOut
    ? `Prometheus at ${where} did not answer within ${waitedMs} ms`
    : code === 'ECONNREFUSED'
      ? `Prometheus unreachable: connection refused, nothing listens on ${where}`
      : code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET'
        ? `Prometheus at ${where} closed the connection before a complete answer`
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? `Prometheus unreachable: host ${safeLine(where.replace(/:\d+$/, ''), 200)} does not resolve`
          : `Prometheus at ${where} unreachable: ${safeLine(`${code ?? ''} ${describe(error)}`.trim(), 300)}`;
  return new HealthError('prometheus-unreachable', message, { hint: SERVER_HINT, retryable: true, cause: error });
}

/** fetch (undici) puts the system error in `cause`, sometimes one level deeper. */
function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 4; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { message?: unknown } } | null)?.cause?.message;
  return typeof cause === 'string' ? cause : error instanceof Error ? error.message : String(error);
}

interface Envelope {
  status?: unknown;
  data?: { resultType?: unknown; result?: unknown };
  errorType?: unknown;
  error?: unknown;
}

function parseAnswer(status: number, body: string, where: string): PrometheusAnswer {
  let envelope: Envelope | undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && ((parsed as Envelope).status === 'success' || (parsed as Envelope).status === 'error')) envelope = parsed as Envelope;
  } catch {
    // not JSON: reported below with what came
  }
  if (!envelope) {
    const quoted = safeLine(body.slice(0, 800), 200).trim();
    throw new HealthError('prometheus-error', `the answer at ${where} (HTTP ${status}) is not the Prometheus API's JSON${quoted ? `: ${quoted}` : ' (empty body)'}`, { hint: SERVER_HINT, retryable: true, details: { status } });
  }
  if (envelope.status === 'error') {
    const errorType = safeLine(envelope.errorType ?? 'unknown', 50);
    const text = safeLine(envelope.error ?? '(no error text)', 1_000);
    const refused = (status === 400 || status === 422) && (errorType === 'bad_data' || errorType === 'execution');
    if (refused) throw new HealthError('prometheus-query-failed', `Prometheus refused the query (${errorType}): ${text}`, { hint: QUERY_HINT, details: { status, errorType } });
    throw new HealthError('prometheus-error', `Prometheus failed the query (HTTP ${status}, ${errorType}): ${text}`, { hint: SERVER_HINT, retryable: true, details: { status, errorType } });
  }
  if (status !== 200) {
    throw new HealthError('prometheus-error', `Prometheus answered HTTP ${status} with status success`, { hint: SERVER_HINT, retryable: true, details: { status } });
  }
  return parseData(envelope.data, where);
}

function parseData(data: Envelope['data'], where: string): PrometheusAnswer {
  const malformed = (what: string) => new HealthError('prometheus-error', `the answer at ${where} is not the Prometheus API's JSON: ${what}`, { hint: SERVER_HINT, retryable: true });
  const resultType = data?.resultType;
  const result = data?.result;
  if (resultType === 'scalar') return { resultType, series: [{ labels: {}, value: sampleValue(result, malformed) }] };
  if (resultType === 'vector') {
    if (!Array.isArray(result)) throw malformed('a vector without a result list');
    return {
      resultType,
      series: result.map((entry: unknown) => {
        const { metric, value } = (entry ?? {}) as { metric?: unknown; value?: unknown };
        if (!metric || typeof metric !== 'object') throw malformed('a series without labels');
        const labels: Record<string, string> = {};
        for (const [name, labelValue] of Object.entries(metric)) if (name !== '__name__') labels[name] = String(labelValue);
        return { labels, value: sampleValue(value, malformed) };
      }),
    };
  }
  if (resultType === 'matrix' || resultType === 'string') {
    throw new HealthError('prometheus-query-failed', `the query returns a ${resultType === 'matrix' ? 'range vector' : 'string'}, not an instant vector or a number`, {
      hint: resultType === 'matrix' ? 'wrap the range in a function (rate(x[1m]), max_over_time(x[5m]), last_over_time(x[5m]))' : 'a check needs a number or series',
    });
  }
  throw malformed(`result type ${safeLine(String(resultType), 50)}`);
}

/** A sample `[time, "value"]`: the value string as a number (Prometheus spells infinity `+Inf`/`-Inf`). */
function sampleValue(sample: unknown, malformed: (what: string) => HealthError): number {
  const text: unknown = Array.isArray(sample) ? sample[1] : undefined;
  if (typeof text !== 'string') throw malformed('a sample without a value string');
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw malformed(`the value ${safeLine(text, 50)} is not a number`);
  return value;
}
