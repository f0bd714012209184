/**
 * Remote updates: the component registry and the region's deployment service over the fleet's
 * devices.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { ComponentRegistry, DeploymentService } from "./updates/mod.ts";
import type { FleetState } from "./fleet/mod.ts";
import { ensureObjectMirror } from "./nats/mod.ts";
import { buckets } from "../protocol/mod.ts";
import type { Logger } from "../runtime/mod.ts";

/** Opens the registry, then the deployment service (over the artifacts' object mirror). */
export async function openUpdates(
  nc: NatsConnection,
  { region, logger, regional, state }: {
    region: string;
    logger: Logger;
    regional: boolean;
    state: FleetState;
  },
): Promise<{ registry: ComponentRegistry; deployments: DeploymentService }> {
  const registry = await ComponentRegistry.open(nc, { logger });
  const deployments = await DeploymentService.open(nc, {
    region,
    logger,
    regional,
    artifactsStream: await ensureObjectMirror(nc, buckets.artifacts),
    jsm: await jetstreamManager(nc),
    devices: () =>
      [...state.devices.entries()].map(([id, e]) => ({
        id,
        region: e.value.region,
        tags: e.value.tags,
        groups: e.value.groups,
      })),
  });
  return { registry, deployments };
}
