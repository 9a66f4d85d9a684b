import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { safeLine } from '@agentbus/contracts';
import { compileChecks, type HealthCheck, type HealthCheckInput } from './check.ts';
import { firstFieldMismatch } from './json-fields.ts';

export const ProbeErrorKinds = {
  /** Nothing listens on the port (the service is down or restarting). */
  connectionRefused: 'connection-refused',
  /** The connection was closed before a complete answer (the process crashed mid-request). */
  connectionReset: 'connection-reset',
  /** No complete answer within the check's timeoutMs. */
  timeout: 'timeout',
  /** The host name does not resolve. */
  hostNotFound: 'host-not-found',
  /** Any other network failure (TLS, unreachable network, …). */
  networkError: 'network-error',
  /** An answer with another status than expectStatus. */
  wrongStatus: 'wrong-status',
  /** expectJson is set but the body is not JSON. */
  invalidJson: 'invalid-json',
  /** A field named in expectJson is missing or has another value. */
  fieldMismatch: 'field-mismatch',
} as const;
export type ProbeErrorKind = (typeof ProbeErrorKinds)[keyof typeof ProbeErrorKinds];

/** Why one probe failed: plain data, ready to put into an event. */
export interface ProbeError {
  kind: ProbeErrorKind;
  /**
   * One line for people: "connection refused: nothing listens on 127.0.0.1:9400". What it quotes
   * of the answer (the body) or of a network error is made safe (safeLine) and bounded.
   */
  message: string;
  /** For field-mismatch: the dot path, what was expected and what came (undefined: missing). */
  field?: { path: string; expected: unknown; actual: unknown };
}

/** One HTTP GET against one check. */
export interface ProbeResult {
  check: string;
  url: string;
  ok: boolean;
  /** The HTTP status, or null when no answer came. */
  status: number | null;
  /** From sending the request to the end of the body (or to the failure). */
  latencyMs: number;
  /** True when the probe was cut off at the check's timeoutMs (latencyMs is then that wait). */
  timedOut: boolean;
  error: ProbeError | null;
  /** ISO time the probe started. */
  at: string;
}

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Probes a check once with GET, on a fresh connection (no keep-alive, so a restarted service is
 * seen at once). Never throws for a failing service: every failure is a ProbeResult with `ok:
 * false` and a named `error`. Throws HealthError `invalid-check` only for an invalid check.
 */
export async function probeOnce(input: HealthCheckInput): Promise<ProbeResult> {
  const [check] = compileChecks([input]);
  return probeCompiled(check as HealthCheck);
}

/** probeOnce for a check compileChecks already validated. */
export function probeCompiled(check: HealthCheck): Promise<ProbeResult> {
  const url = new URL(check.url);
  const at = new Date().toISOString();
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  const result = (fields: Pick<ProbeResult, 'status' | 'error'> & { timedOut?: boolean }): ProbeResult => ({
    check: check.name,
    url: check.url,
    ok: fields.error === null,
    status: fields.status,
    latencyMs: elapsed(),
    timedOut: fields.timedOut ?? false,
    error: fields.error,
    at,
  });

  return new Promise((resolve) => {
    let settled = false;
    const finish = (probe: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(probe);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, {
      method: 'GET',
      agent: false,
      headers: { accept: 'application/json, */*', 'user-agent': 'agentbus-health', connection: 'close', ...check.headers },
    });
    const timer = setTimeout(() => {
      finish(result({ status: null, timedOut: true, error: { kind: 'timeout', message: `no complete answer within ${check.timeoutMs} ms` } }));
      request.destroy();
    }, check.timeoutMs);

    request.on('error', (error: NodeJS.ErrnoException) => finish(result({ status: null, error: networkError(error, url) })));
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      response.on('error', (error: NodeJS.ErrnoException) => finish(result({ status: response.statusCode ?? null, error: networkError(error, url) })));
      response.on('end', () => {
        const status = response.statusCode ?? null;
        finish(result({ status, error: judgeAnswer(check, status, Buffer.concat(chunks).toString('utf8'), size) }));
      });
    });
    request.end();
  });
}

/** The start of an answer's body as one safe line of at most `max` characters, for a message. */
function excerpt(body: string, max: number): string {
  return safeLine(body.slice(0, 4 * max), max).trim();
}

function judgeAnswer(check: HealthCheck, status: number | null, body: string, size: number): ProbeError | null {
  if (status !== check.expectStatus) {
    const quoted = excerpt(body, 200);
    return { kind: 'wrong-status', message: `status ${status}, expected ${check.expectStatus}${quoted ? `: ${quoted}` : ''}` };
  }
  if (!check.expectJson) return null;
  if (size > MAX_BODY_BYTES) return { kind: 'invalid-json', message: `body larger than ${MAX_BODY_BYTES} bytes; expected a small JSON health document` };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { kind: 'invalid-json', message: `body is not JSON (expected fields ${Object.keys(check.expectJson).join(', ')}): ${excerpt(body, 100) || '(empty)'}` };
  }
  const mismatch = firstFieldMismatch(json, check.expectJson);
  if (!mismatch) return null;
  const actual = mismatch.actual === undefined ? 'missing' : safeLine(JSON.stringify(mismatch.actual), 200);
  return {
    kind: 'field-mismatch',
    message: `field ${mismatch.path} is ${actual}, expected ${safeLine(JSON.stringify(mismatch.expected), 200)}`,
    field: { path: mismatch.path, expected: mismatch.expected, actual: mismatch.actual },
  };
}

function networkError(error: NodeJS.ErrnoException, url: URL): ProbeError {
  switch (error.code) {
    case 'ECONNREFUSED':
      return { kind: 'connection-refused', message: `connection refused: nothing listens on ${url.host}` };
    case 'ECONNRESET':
    case 'EPIPE':
      return { kind: 'connection-reset', message: `connection reset by ${url.host} before a complete answer (did the process crash?)` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { kind: 'host-not-found', message: `host ${url.hostname} does not resolve` };
    default:
      return { kind: 'network-error', message: safeLine(`${error.code ?? 'error'}: ${error.message}`, 500) };
  }
}
