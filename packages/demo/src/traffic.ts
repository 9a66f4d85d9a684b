import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { AgentbusError } from '@agentbus/contracts';
import { DemoErrorCodes } from './errors.ts';

export interface TrafficOptions {
  /**
   * How often a request is started.
   * @default 50
   */
  intervalMs?: number;
}

export interface TrafficTotals {
  /** Requests that ended: answered, refused, reset or timed out. */
  requests: number;
  /** Of those, the ones not answered with a 2xx status (a refused connection during a redeploy is one). */
  failures: number;
}

export interface Traffic {
  /** Sends no more requests, waits for those in flight, closes the sockets; the same totals on every call. Never rejects. */
  stop(): Promise<TrafficTotals>;
}

/** A tick that finds this many requests still in flight (a slow version) sends nothing: the load stays a few requests deep. */
const MAX_IN_FLIGHT = 4;
/** A request that takes longer counts as a failure, so stop() waits at most this long. */
const REQUEST_TIMEOUT_MS = 2_000;

/**
 * GETs `url` every `intervalMs` (the first at once) over keep-alive connections, counting answers
 * and failures. Never throws after it started: every failure (refused, reset, timed out, 5xx) is
 * a count. Leaves no timer or socket once stop() has resolved.
 */
export function startTraffic(url: string, options: TrafficOptions = {}): Traffic {
  const intervalMs = options.intervalMs ?? 50;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new AgentbusError(DemoErrorCodes.invalidOption, `traffic interval ${intervalMs} ms is not a positive number`, { hint: 'pass intervalMs > 0, e.g. 50 (20 requests a second)' });
  }
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();
  const totals: TrafficTotals = { requests: 0, failures: 0 };

  const getOnce = () =>
    new Promise<boolean>((settle) => {
      const call = request(url, { agent, timeout: REQUEST_TIMEOUT_MS }, (response) => {
        const ok = response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300;
        response.on('error', () => settle(false));
        response.on('close', () => settle(ok && response.complete));
        response.resume();
      });
      call.on('socket', (socket) => {
        if (sockets.has(socket)) return;
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      call.on('timeout', () => call.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      call.on('error', () => settle(false));
      call.end();
    });
  const send = () => {
    if (inFlight.size >= MAX_IN_FLIGHT) return;
    const done = getOnce().then((ok) => {
      totals.requests += 1;
      if (!ok) totals.failures += 1;
      inFlight.delete(done);
    });
    inFlight.add(done);
  };
  send();
  const timer = setInterval(send, intervalMs);

  let stopped: Promise<TrafficTotals> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await Promise.all(inFlight);
        agent.destroy();
        // Destroyed one by one as well: a socket between its last response and the agent's free list is in neither of the agent's lists.
        const closing = [...sockets].map((socket) => new Promise((closed) => socket.once('close', closed)));
        for (const socket of sockets) socket.destroy();
        await Promise.all(closing);
        return { ...totals };
      })();
      return stopped;
    },
  };
}
