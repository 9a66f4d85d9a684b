import { fileURLToPath } from 'node:url';
import { runService, type RunningService, type RunOptions } from '@agentbus/runtime';
import { deployerService } from '@agentbus/deployer';
import { healthMonitorService } from '@agentbus/health-monitor';
import { rollbackService } from '@agentbus/rollback';
import { notifierService } from '@agentbus/notifier';
import { postmortemService } from '@agentbus/postmortem';
import { releaseService } from '@agentbus/release';

/** Every agentbus service by name, in start order; `node services/<name>` runs one alone. */
const allServices = {
  deployer: deployerService,
  'health-monitor': healthMonitorService,
  rollback: rollbackService,
  postmortem: postmortemService,
  notifier: notifierService,
  release: releaseService,
} as const;
export type ServiceName = keyof typeof allServices;
export const serviceNames = Object.keys(allServices) as ServiceName[];

export function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(allServices, name);
}

/** The file a service process runs (`node services/<name>`): each service package @agentbus/<name> exports it as `./main`. */
export function serviceEntry(name: ServiceName): string {
  return fileURLToPath(import.meta.resolve(`@agentbus/${name}/main`));
}

export interface InProcessOptions extends Omit<RunOptions, 'env'> {
  /** Which services, started in this order. @default serviceNames */
  services?: readonly ServiceName[];
}

/**
 * Starts services inside this process (demo, tests, benchmarks), one after the other. When one
 * cannot start, those already started are stopped and the error is thrown. Stop them with
 * stopServices.
 */
export async function startServicesInProcess(env: Record<string, string | undefined>, options: InProcessOptions = {}): Promise<RunningService[]> {
  const { services = serviceNames, ...runOptions } = options;
  const running: RunningService[] = [];
  try {
    for (const name of services) running.push(await runService(allServices[name] as never, { ...runOptions, env }));
  } catch (error) {
    await stopServices(running);
    throw error;
  }
  return running;
}

/** Stops services in the reverse of their start order, all at once; never throws. */
export async function stopServices(services: readonly RunningService[]): Promise<void> {
  await Promise.allSettled([...services].reverse().map((service) => service.stop()));
}
