/**
 * Creates or updates a region's JetStream streams from the specifications in protocol/, and the
 * buckets devices use (they may not create any: their credentials only reach their own keys).
 *
 * @module
 */
import { jetstreamManager, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import { ensureObjectMirror, openKv, openObjectStore, regionLayout } from "./region_layout.ts";
import { regionTag } from "./supercluster.ts";
import { isNoSuitablePeers, isStreamNotFound } from "./transient_error.ts";
import { buckets, regionStreams, type StreamSpec } from "../../protocol/mod.ts";
import { sleep } from "../../runtime/mod.ts";

/** Where a region's JetStream assets live in a cluster (default: as the connection's layout says). */
export interface StreamPlacement {
  /** Replicas of each stream and bucket. Default 1. */
  replicas?: number;
  /** Server tags the assets are placed on, e.g. `["region:eu-west"]`. Default: any server. */
  tags?: readonly string[];
}

function placed(placement: StreamPlacement): Partial<StreamConfig> {
  const replicas = placement.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new RangeError(`Cannot place streams with ${replicas} replicas: expected 1-5`);
  }
  return {
    num_replicas: replicas,
    ...(placement.tags?.length ? { placement: { cluster: "", tags: [...placement.tags] } } : {}),
  };
}

function toConfig(
  spec: StreamSpec,
  placement: StreamPlacement,
): Partial<StreamConfig> & { name: string } {
  return {
    ...placed(placement),
    name: spec.name,
    description: spec.description,
    subjects: [...spec.subjects],
    storage: StorageType.File,
    max_age: nanos(spec.maxAgeMs),
    duplicate_window: nanos(spec.duplicateWindowMs),
    // Devices read single messages by subject (a permission can name the subject).
    allow_direct: true,
  };
}

/**
 * Makes sure every stream of `region` exists with its current configuration (with `replicas` on
 * the servers tagged `tags`, in a cluster); returns their names.
 */
export async function ensureStreams(
  nc: NatsConnection,
  region: string,
  placement?: StreamPlacement,
): Promise<string[]> {
  const layout = regionLayout(nc);
  placement ??= {
    replicas: layout.replicas,
    ...(layout.placement ? { tags: [regionTag(region)] } : {}),
  };
  // (Stream creation goes through a supercluster's metadata leader: slower than a read.)
  const jsm = await jetstreamManager(nc, { timeout: 20_000 });
  const names: string[] = [];
  for (const spec of regionStreams(region)) {
    const config = toConfig(spec, placement);
    await whilePeersJoin(async () => {
      try {
        await jsm.streams.info(spec.name);
        await jsm.streams.update(spec.name, config);
      } catch (e) {
        if (!isStreamNotFound(e)) throw e;
        await jsm.streams.add(config);
      }
    });
    names.push(spec.name);
  }
  await ensureDeviceBuckets(nc);
  return names;
}

/**
 * Makes sure the buckets devices read and write exist, where `nc`'s region layout places them:
 * shadows, component manifests, artifact chunks (and the region's mirror of them), clips and
 * snapshots.
 */
export async function ensureDeviceBuckets(nc: NatsConnection): Promise<void> {
  await openKv(nc, buckets.shadow, { history: 5 });
  await openKv(nc, buckets.components, { history: 1 });
  await openObjectStore(nc, buckets.artifacts);
  await ensureObjectMirror(nc, buckets.artifacts);
  await openObjectStore(nc, buckets.clips);
  await openObjectStore(nc, buckets.snapshots);
}

/** How long a cluster that is still forming may refuse to place a stream, ms. */
const PEERS_JOIN_MS = 30_000;

/**
 * Runs `fn`, again while JetStream refuses for want of servers to place a stream on (a cluster
 * whose servers have not all joined its metadata group yet), for up to {@link PEERS_JOIN_MS}.
 */
async function whilePeersJoin(fn: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + PEERS_JOIN_MS;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!isNoSuitablePeers(e) || Date.now() >= deadline) throw e;
      await sleep(250);
    }
  }
}
