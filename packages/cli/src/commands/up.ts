import { join } from 'node:path';
import { AgentbusError } from '@agentbus/contracts';
import type { SupervisedService, SupervisorEvent } from '@agentbus/platform';
import { stringOption, UsageError, type Command } from '../command.ts';
import { startEmbeddedNats } from '../embedded.ts';
import { CliErrorCodes } from '../errors.ts';

function describeSupervisorEvent(event: SupervisorEvent): string {
  const { service } = event;
  switch (event.type) {
    case 'restarting':
      return `agentbus: ${service.name} exited (${event.signal ?? `code ${event.code}`}); restarting in ${event.delayMs} ms (see ${service.logPath})`;
    case 'port-moved':
      return `agentbus: ${service.name}'s metrics port was taken; its metrics are now at ${service.metricsUrl}`;
  }
}

export const up: Command = {
  path: ['up'],
  identity: 'admin', // it applies the topology; the services run under their own identities
  summary: 'start everything locally: NATS (embedded unless NATS_URL), the streams, and every service; Ctrl-C stops them',
  usage: '[--services deployer,health-monitor,…]',
  options: { services: { type: 'string' } },
  async run(ctx, args) {
    // Loaded here, not at start-up: the services are the heaviest modules of the CLI.
    const { isServiceName, launcherGone, prepareUp, RestartPolicies, serviceNames, Supervisor } = await import('@agentbus/platform');
    const wanted: string[] = stringOption(args, 'services')?.split(',').map((s) => s.trim()) ?? serviceNames;
    const unknown = wanted.filter((name) => !isServiceName(name));
    if (unknown.length) throw new UsageError(`unknown service(s): ${unknown.join(', ')}`, `known: ${serviceNames.join(', ')}`);

    let natsUrl: string | undefined = ctx.config.natsUrl;
    if (natsUrl === undefined) {
      const embedded = await startEmbeddedNats({ home: ctx.config.home, binary: ctx.config.natsServerBinary, advertise: true, auth: ctx.config.embeddedAuth });
      ctx.onExit(() => embedded.release());
      if (!embedded.owned) throw new AgentbusError(CliErrorCodes.alreadyUp, `agentbus is already up in ${ctx.config.home} (NATS at ${embedded.url})`, { hint: 'stop the other `agentbus up` first (Ctrl-C in its terminal)' });
      natsUrl = embedded.url;
    }
    const nc = await ctx.nats();
    const { topology, registry } = await prepareUp(nc, { registryPath: ctx.config.servicesConfigPath, home: ctx.config.home });
    const serviceEnv = ctx.serviceNatsEnv();
    ctx.out.line(`NATS        ${natsUrl}${ctx.config.natsUrl ? '' : ` (embedded, store in ${join(ctx.config.home, 'nats')})`}`);
    if (!ctx.config.natsUrl) {
      ctx.out.line(`auth        ${serviceEnv.NATS_CREDENTIALS_DIR ? `on: every service under its own NATS identity (keys in ${serviceEnv.NATS_CREDENTIALS_DIR})` : 'off (AGENTBUS_NATS_AUTH=off): any local client may publish anything'}`);
    }
    ctx.out.line(`streams     ${topology.changed ? `applied (${topology.changes.filter((c) => c.action !== 'unchanged').length} changes)` : 'up to date'}`);
    ctx.out.line(`registry    ${registry.path}: ${registry.services.length} service(s) under watch${registry.created ? ' (created empty: add services, see infra/config/agentbus.example.json)' : ''}`);
    ctx.out.data({ nats: natsUrl, registry: registry.path, services: registry.services });

    const logDir = join(ctx.config.home, 'logs');
    const supervisor = new Supervisor({
      env: { ...process.env, ...serviceEnv, NATS_URL: natsUrl, AGENTBUS_CONFIG: registry.path },
      logPath: (name) => join(logDir, `${name}.log`),
      restart: RestartPolicies.always,
      onEvent: (event) => ctx.out.note(describeSupervisorEvent(event)),
    });
    ctx.onExit(() => supervisor.stop());
    const onReady = (service: SupervisedService) => {
      ctx.out.line(`${service.name.padEnd(14)}  ready  metrics ${service.metricsUrl}  log ${service.logPath}`);
      ctx.out.data({ service: service.name, pid: service.child.pid, metrics: service.metricsUrl, log: service.logPath });
    };
    await supervisor.startAll(wanted.filter(isServiceName), { onReady });
    ctx.out.line('agentbus is up. Ctrl-C stops every service cleanly.');
    const signal = await Promise.race([ctx.stopSignal, launcherGone(ctx.config.launchedByNpm)]);
    ctx.out.line(`${signal}: stopping the services (each drains its running work)…`);
    await supervisor.stop();
    ctx.out.line('stopped.');
    return 0;
  },
};
