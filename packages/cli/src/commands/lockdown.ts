import { releaseManifestPath, releaseManifestSchema, type ReleaseManifest } from '@agentbus/contracts';
import { loadFleetConfig, locateRegistry, scanDrift } from '@agentbus/fleet';
import { isStateNotFound } from '@agentbus/state';
import { stringOption, UsageError, type Command } from '../command.ts';
import { ExitCodes } from '../exit-codes.ts';
import { openStore } from './state.ts';

export const lockdownScan: Command = {
  path: ['lockdown', 'scan'],
  summary: 'scan production clones for drift (uncommitted or untracked files, local commits, a commit other than the one deployed, commits pushed around agentbus); exit 7 when there is any',
  usage: '[--service <name>]',
  options: { service: { type: 'string' } },
  async run(ctx, args) {
    const fleet = loadFleetConfig(locateRegistry({ registryPath: ctx.config.servicesConfigPath, home: ctx.config.home }).path);
    const wanted = stringOption(args, 'service');
    const services = wanted === undefined ? fleet.services : fleet.services.filter((s) => s.name === wanted);
    if (wanted !== undefined && services.length === 0) throw new UsageError(`no service "${wanted}" in the registry`, `known: ${fleet.services.map((s) => s.name).join(', ') || 'none'}`);
    const store = await openStore(ctx);
    let drifts = 0;
    for (const service of services) {
      let manifest: ReleaseManifest | undefined;
      try {
        manifest = releaseManifestSchema.parse((await store.getVerified(releaseManifestPath(service.name))).data);
      } catch (error) {
        if (!isStateNotFound(error)) throw error;
      }
      const findings = await scanDrift(service, manifest);
      drifts += findings.length;
      if (findings.length === 0) {
        ctx.out.line(`${service.name}: clean`);
        ctx.out.data({ service: service.name, clean: true });
      }
      for (const finding of findings) {
        ctx.out.line(`${service.name}: ${finding.kind}: ${finding.summary}`);
        ctx.out.data({ service: service.name, kind: finding.kind, summary: finding.summary, evidence: finding.evidence });
      }
    }
    if (drifts > 0) ctx.out.note(`agentbus: ${drifts} drift(s) found: production was changed outside agentbus`);
    return drifts > 0 ? ExitCodes.drift : ExitCodes.ok;
  },
};
