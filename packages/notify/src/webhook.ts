import { AgentbusError, errorGuard, safeLine } from '@agentbus/contracts';

/**
 * One webhook POST with a JSON body. The URL is a secret (a Slack or Discord webhook URL is its
 * own credential): it never appears in an error, a log line or an event. Errors name the target
 * (`options.target`) instead, and the receiver's answer is quoted with every given secret blanked,
 * as one safe line (safeLine: the answer is outside text).
 */

export const WebhookErrorCodes = {
  /** The receiver answered, with a status other than 2xx. */
  status: 'webhook-status',
  /** No complete answer within the time-out. */
  timeout: 'webhook-timeout',
  /** No connection (refused, reset, unknown host…). */
  unreachable: 'webhook-unreachable',
  /** The configured URL is not an http(s) URL. */
  invalidUrl: 'webhook-invalid-url',
} as const;
export type WebhookErrorCode = (typeof WebhookErrorCodes)[keyof typeof WebhookErrorCodes];

declare module '@agentbus/contracts' {
  interface AgentbusErrorCodeMaps {
    notify: typeof WebhookErrorCodes;
  }
}

export class WebhookError extends AgentbusError {
  declare readonly code: WebhookErrorCode;
  /** The receiver's status; null when it did not answer. */
  readonly status: number | null;

  constructor(code: WebhookErrorCode, message: string, options: { status: number | null; retryable: boolean; hint: string; details: Record<string, unknown> }) {
    super(code, message, { retryable: options.retryable, hint: options.hint, details: options.details });
    this.status = options.status;
  }
}

export const isWebhookError = errorGuard(WebhookError);

export interface PostWebhookOptions {
  /** Names the receiver in errors (never the URL): e.g. `chat target "ops"`. */
  target: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  /** Values blanked out of the quoted answer (the URL, tokens, keys). */
  secrets?: readonly string[];
  signal?: AbortSignal;
}

export interface WebhookResponse {
  status: number;
  durationMs: number;
}

const RETRY_HINT = 'agentbus retries it through the bus with backoff; after the last attempt it is dead-lettered (`agentbus dlq list`): fix the receiver, then `agentbus dlq redrive`';
const REFUSED_HINT = 'the receiver refused this message; retrying the same request cannot help: fix the configured target (URL, key, token) or the receiver, then `agentbus dlq redrive` it';

/**
 * Statuses worth retrying: the receiver's own trouble (5xx), a time-out (408), "too early" (425)
 * and rate limiting (429). Any other 4xx, and 3xx (a webhook is not followed to another URL), is
 * an answer about the request itself: PagerDuty documents 400 as "do not retry".
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 425 || status === 429;
}

/** Resolves with the status on 2xx; throws WebhookError otherwise (retryable as isRetryableStatus says, and for time-outs and connection failures). */
export async function postWebhook(url: string, body: unknown, options: PostWebhookOptions): Promise<WebhookResponse> {
  if (!isHttpUrl(url)) {
    throw new WebhookError(WebhookErrorCodes.invalidUrl, `${options.target}: the configured URL is not an http(s) URL`, { status: null, retryable: false, hint: 'fix the URL in the notifications section of the service registry', details: { target: options.target } });
  }
  const started = Date.now();
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal,
    });
    const answer = await response.text();
    const durationMs = Date.now() - started;
    if (response.status >= 200 && response.status < 300) return { status: response.status, durationMs };
    const retryable = isRetryableStatus(response.status);
    const quoted = quote(answer, [...urlSecrets(url), ...(options.secrets ?? [])]);
    throw new WebhookError(WebhookErrorCodes.status, `${options.target} answered ${response.status}${response.statusText ? ` ${safeLine(response.statusText, 100)}` : ''}${quoted ? `: ${quoted}` : ''}`, {
      status: response.status,
      retryable,
      hint: retryable ? RETRY_HINT : REFUSED_HINT,
      details: { target: options.target, status: response.status, durationMs },
    });
  } catch (error) {
    if (error instanceof WebhookError) throw error;
    const durationMs = Date.now() - started;
    if (timeout.aborted) {
      throw new WebhookError(WebhookErrorCodes.timeout, `${options.target} gave no complete answer within ${options.timeoutMs} ms`, { status: null, retryable: true, hint: RETRY_HINT, details: { target: options.target, durationMs } });
    }
    if (options.signal?.aborted) {
      throw new WebhookError(WebhookErrorCodes.unreachable, `${options.target}: the delivery was interrupted (the notifier is stopping)`, { status: null, retryable: true, hint: RETRY_HINT, details: { target: options.target, durationMs } });
    }
    // fetch's own errors name the host and port, and a parse error the whole URL: keep only the code.
    const cause = causeCode(error);
    throw new WebhookError(WebhookErrorCodes.unreachable, `${options.target} could not be reached (${cause})`, { status: null, retryable: true, hint: RETRY_HINT, details: { target: options.target, cause, durationMs } });
  }
}

export function isHttpUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

function causeCode(error: unknown): string {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) return code;
  }
  return error instanceof Error ? error.name : 'unknown error';
}

/** The URL and its path: a webhook's secret is usually its path, which a receiver may echo alone. */
function urlSecrets(url: string): string[] {
  const { pathname, search } = new URL(url);
  return [url, `${pathname}${search}`, pathname].filter((part) => part.length > 1);
}

/**
 * The start of the receiver's answer as one safe line of at most 200 characters, every secret
 * replaced (the longest first) before anything is cut, so no part of a secret is ever shown.
 */
function quote(answer: string, secrets: readonly string[]): string {
  let text = answer.slice(0, 8_000).replace(/\s+/g, ' ').trim();
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) if (secret) text = text.split(secret).join('[redacted]');
  return safeLine(text, 200);
}
