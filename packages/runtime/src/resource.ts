import { z } from 'zod';
import type { NatsConnection } from '@nats-io/transport-node';
import { LeaseManager } from '@agentbus/bus';
import type { Logger } from '@agentbus/telemetry';

/** What a resource's opener gets from the runtime. */
export interface ResourceContext {
  /** The service's name (the agent a state store writes as, the prefix of a lease holder). */
  service: string;
  /** The service's connection, already up. */
  nc: NatsConnection;
  log: Logger;
  /** Runs when the service stops, after its consumers have drained (reverse order), or when it fails to start. */
  onStop(cleanup: () => Promise<void> | void): void;
}

/**
 * Something a service uses (the service registry, versioned state, leases, health evidence),
 * declared in its definition's `resources` under a name of its choosing. Contract:
 * - `env` is validated at start together with the runtime's variables, the service's settings and
 *   every other declared resource's `env`: every problem is in one `config-invalid` error;
 * - `open` runs once, after connecting and before `start()`, in declaration order; what it throws
 *   stops the start; what it registers with `onStop` runs at stop;
 * - the opened value is `ctx.resources.<name>`, typed, on services that declare it and nowhere else.
 *
 * A resource is a plain value exported by the package that owns the thing (fleetResource,
 * stateResource, evidenceResource): that package needs no dependency on the runtime, and its
 * `env` schema is the one its other users (the CLI) validate with too.
 */
export interface ServiceResource<Env = unknown, Value = unknown> {
  /** Its environment variables: a zod object schema; its output is what `open` gets. */
  env: z.ZodType<Env>;
  open(env: Env, ctx: ResourceContext): Promise<Value> | Value;
}

/** A service's declared resources by name (any resource: its `open` takes what its own `env` outputs). */
export type ServiceResources = Record<string, { env: z.ZodType; open(env: never, ctx: ResourceContext): unknown }>;

/** The opened value of each declared resource. */
export type OpenedResources<R extends ServiceResources> = { readonly [K in keyof R]: Awaited<ReturnType<R[K]['open']>> };

/** Per-resource leases (create-only keys), held as `<service>-<pid>`. No variables. */
export const leasesResource = {
  env: z.object({}),
  open: (_env: unknown, ctx: ResourceContext): Promise<LeaseManager> => LeaseManager.open(ctx.nc, `${ctx.service}-${process.pid}`),
} satisfies ServiceResource;
