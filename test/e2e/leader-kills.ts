// The leader-kill scenario of issue 9, shared by its e2e test (what must hold: one revert, healthy
// again, written up, reported) and `npm run bench:cluster` (how much slower the loop is with the
// fault). On a 3-node cluster a broken change is deployed with `agentbus deploy --wait`; right
// after the deploy ends, the node leading AGENT_EVENTS is SIGKILLed and restarted 5 s later.
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { StreamNames } from '@agentbus/contracts';
import { readStream } from '@agentbus/bus';
import { serverSource } from '@agentbus/demo';
import type { IncidentEvent } from '@agentbus/incident';
import { runCli, waitFor, type CliResult } from '@agentbus/testkit';
import { startLoop, type Loop } from './harness.ts';

export interface LeaderKillRun {
  ref: string;
  fault: boolean;
  result: CliResult;
  incident: string;
  events: IncidentEvent[];
  /** From the deploy request to rollback.completed, as the loop's events tell it (infinite when it never completed). */
  ms: number;
  /** The incident's events and the fault, a line each, for a message. */
  story: string;
}

export interface LeaderKills {
  loop: Loop;
  /** Deploys a new broken change (`ref`, pushed first) and, when `fault`, kills and restarts the AGENT_EVENTS leader right after the deploy ends. */
  run(ref: string, fault: boolean): Promise<LeaderKillRun>;
  stop(): Promise<void>;
}

export async function startLeaderKills(): Promise<LeaderKills> {
  const loop = await startLoop({ cluster: true, env: { HEALTH_WATCH_INTERVAL_MS: '1000' } });
  const cluster = loop.cluster!;
  const jsm = await jetstreamManager(loop.nc);

  // The deploy ends with deploy.completed, or with deploy.failed at deploy-command when the watch's
  // probe crashed the broken version before the deploy script saw it listen (a loaded machine):
  // either way the merge is pushed and the rollback is next, which is when the leader dies.
  // Each look reads on from where the last one stopped (not the whole stream every 100 ms).
  let nextSeq = 1;
  const deployEndedFor = async (ref: string) => {
    for await (const stored of readStream(loop.nc, { stream: StreamNames.events, fromSeq: nextSeq, subject: 'events.deploy.>' })) {
      nextSeq = stored.seq + 1;
      const event = JSON.parse(new TextDecoder().decode(stored.data)) as { type: string; correlationId: string; data: { ref: string; pushed?: boolean } };
      if (event.data.ref !== ref) continue;
      if (event.type === 'deploy.completed' || (event.type === 'deploy.failed' && event.data.pushed)) return event.correlationId;
    }
    return undefined;
  };
  /** What the deploy may be waiting for: each consumer's backlog and the service's lease keys. */
  const whereItWaits = async () => {
    const lines: string[] = [];
    for (const stream of [StreamNames.tasks, StreamNames.events]) {
      for await (const c of jsm.consumers.list(stream)) lines.push(`${stream}/${c.name}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}`);
    }
    const leases = await (await new Kvm(loop.nc).open('AGENTBUS_LEASES')).keys(`*.${loop.demo.name}.*`);
    for await (const key of leases) lines.push(`lease key ${key}`);
    return lines.join('\n');
  };

  const run = async (ref: string, fault: boolean): Promise<LeaderKillRun> => {
    await loop.pushBranch(ref, { 'server.mjs': `${serverSource(loop.demo.name, 'broken')}// broken change ${ref}\n` });
    const started = Date.now();
    const cli = runCli(['deploy', loop.demo.name, '--ref', ref, '--wait', '--timeout-ms', '120000', '--json'], { env: loop.cliEnv, timeoutMs: 150_000 });
    // The deploy command ending first (an error, a refusal) is the answer: say it, with what the services logged.
    const exitedEarly = cli.then((r) => {
      throw new Error(`deploy --wait of ${ref} exited ${r.code} before its deploy ended\n${r.stdout}\n${r.stderr}`);
    });
    const incident = await Promise.race([waitFor(`the end of the deploy of ${ref}`, () => deployEndedFor(ref), 60_000, 100), exitedEarly]).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${await whereItWaits()}\n--- services log ---\n${loop.logTail(60)}`, { cause: error });
    });
    const faultLines: string[] = [];
    if (fault) {
      const leader = (await jsm.streams.info(StreamNames.events)).cluster?.leader;
      const victim = cluster.servers.find((s) => s.serverName === leader);
      if (!victim) throw new Error(`the AGENT_EVENTS leader ${leader} is none of the cluster's nodes`);
      await victim.kill();
      faultLines.push(`${new Date().toISOString().slice(11, 23)} (test) ${leader} killed`);
      await sleep(5_000);
      await victim.restart();
      faultLines.push(`${new Date().toISOString().slice(11, 23)} (test) ${leader} restarted`);
    }
    const result = await cli;
    // The loop's own time, from the deploy request to the rollback's end, as its events tell it
    // (not the time spent waiting for the node to come back).
    const events = await loop.events(incident);
    const ended = events.find((e) => e.type === 'rollback.completed');
    const story = [...events.map((e) => `${e.time.slice(11, 23)} ${e.source} ${e.type}`), ...faultLines].sort().join('\n');
    return { ref, fault, result, incident, events, story, ms: ended ? Date.parse(ended.time) - started : Number.POSITIVE_INFINITY };
  };

  return { loop, run, stop: () => loop.stop() };
}
