/**
 * The service's NATS connection: connecting, choosing the region's layout (a single server's,
 * or a supercluster's placement) and making sure the region's streams exist.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import {
  connectNats,
  ensureStreams,
  type NatsTarget,
  type RegionLayout,
  SINGLE_SERVER,
  useRegionLayout,
} from "./nats/mod.ts";
import type { Logger } from "../runtime/mod.ts";

/** The connection {@link openRegion} opened, where it connected to, and the region's layout. */
export interface RegionConnection {
  /** Where the connection goes (and with which credentials). */
  readonly target: NatsTarget;
  /** The instance's NATS connection. */
  readonly nc: NatsConnection;
  /** The streams' and buckets' placement. */
  readonly layout: RegionLayout;
}

/**
 * Connects to `nats` as `vendstream-cloud-REGION`, sets the region's layout and ensures its
 * streams (`streams ready`); on a failure after connecting, the connection is closed.
 */
export async function openRegion(
  nats: string | NatsTarget,
  { region, supercluster, signal, logger }: {
    region: string;
    supercluster?: { primary: string; replicas?: number } | undefined;
    signal?: AbortSignal | undefined;
    logger: Logger;
  },
): Promise<RegionConnection> {
  const target: NatsTarget = typeof nats === "string" ? { url: nats } : nats;
  const nc = await connectNats(target, {
    name: `vendstream-cloud-${region}`,
    ...(signal ? { signal } : {}),
  });
  const primary = supercluster?.primary;
  const layout: RegionLayout = primary
    ? {
      region,
      primary,
      replicas: supercluster?.replicas ?? 3,
      placement: true,
    }
    : { ...SINGLE_SERVER, region, primary: region };
  try {
    useRegionLayout(nc, layout);
    const streams = await ensureStreams(nc, region);
    logger.log("info", "streams ready", { region, streams });
  } catch (e) {
    await nc.close();
    throw e;
  }
  return { target, nc, layout };
}
