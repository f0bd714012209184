/**
 * The region's NATS services (devices' object commits, payment sessions' status) and the
 * deployments' rollouts: one task group, stopped once the HTTP server has stopped.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { serveObjectCommits } from "./fleet/mod.ts";
import { serveSessionStatus } from "./checkout/mod.ts";
import type { DeploymentService } from "./updates/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { TaskGroup } from "./_service_tasks.ts";

/**
 * Starts answering object commits and session status requests, then runs the rollouts
 * (`deployments stopped` if they fail); all of them stop with the returned group.
 */
export async function startRegionServices(
  nc: NatsConnection,
  { region, logger, deployments }: {
    region: string;
    logger: Logger;
    deployments: DeploymentService;
  },
): Promise<TaskGroup> {
  const services = new TaskGroup();
  await serveObjectCommits(nc, { region, logger, signal: services.signal });
  await serveSessionStatus(nc, { region, logger, signal: services.signal });
  services.add(
    deployments.run(nc, services.signal).catch((e) =>
      logger.log("error", "deployments stopped", { error: String(e) })
    ),
  );
  return services;
}
