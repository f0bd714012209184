/**
 * Where a cloud instance's buckets live. A connection is bound to a layout once
 * ({@link useRegionLayout}); every bucket the services open through it then follows the layout:
 * a regional bucket (device status, shadows, payment sessions, ledger, clips...) is the region's
 * own, `<bucket>_<region>`, placed on the region's servers; a global one (registry, components,
 * deployments, credentials...) has its original in the primary region and, in every other
 * region, a mirror (a JetStream mirror, kept by the servers) that the instance reads and
 * watches. Writes to a global bucket go to the original, so they need the primary region;
 * reads keep working from the mirror when it is down.
 *
 * Without a layout a connection uses a single server's: region `local`, one replica, no
 * placement.
 *
 * @example
 * ```ts
 * import { openKv, useRegionLayout } from "./region_layout.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 *
 * useRegionLayout(nc, { region: "us-east", primary: "eu-west", replicas: 3, placement: true });
 * const status = await openKv(nc, "status", { history: 1 }); // bucket status_us-east
 * const registry = await openKv(nc, "registry", { history: 5 }); // reads registry_mirror_us-east
 * ```
 *
 * @module
 */
import {
  jetstream,
  jetstreamManager,
  type StreamConfig,
  type StreamSource,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { type ObjectStore, type ObjectStoreOptions, Objm } from "@nats-io/obj";
import {
  bucketIn,
  isRegionalBucket,
  kvStreamOf,
  mirrorOf,
  objectStreamOf,
} from "../../protocol/mod.ts";
import { regionTag } from "./supercluster.ts";
import { isStreamNotFound, isTransientNatsError } from "./transient_error.ts";
import { type Coherence, coherence, coherentKv } from "./coherent_kv.ts";
import { atomicUpdates } from "./atomic_updates.ts";
import { retry, sleep } from "../../runtime/mod.ts";

/** Where one cloud instance's buckets live. */
export interface RegionLayout {
  /** The instance's region. */
  readonly region: string;
  /** The region that holds the global buckets' originals. */
  readonly primary: string;
  /** Replicas of each stream and bucket (3 in a region's cluster). */
  readonly replicas: number;
  /** Place each region's assets on its servers (tag `region:<id>`): true in a supercluster. */
  readonly placement: boolean;
}

/** A single server's layout: region `local`, one replica. */
export const SINGLE_SERVER: RegionLayout = Object.freeze({
  region: "local",
  primary: "local",
  replicas: 1,
  placement: false,
});

const layouts = new WeakMap<NatsConnection, RegionLayout>();

/** How long creating a stream or bucket may take, ms. */
const CREATE_TIMEOUT_MS = 20_000;

/** Binds `nc` to `layout`: the buckets opened through it follow the layout. */
export function useRegionLayout(nc: NatsConnection, layout: RegionLayout): void {
  if (!Number.isInteger(layout.replicas) || layout.replicas < 1 || layout.replicas > 5) {
    throw new RangeError(`Invalid layout: ${layout.replicas} replicas (expected 1-5)`);
  }
  bucketIn("status", layout.region); // checks the region ids
  bucketIn("status", layout.primary);
  layouts.set(nc, Object.freeze({ ...layout }));
}

/** The layout `nc` is bound to; a single server's when none. */
export function regionLayout(nc: NatsConnection): RegionLayout {
  return layouts.get(nc) ?? SINGLE_SERVER;
}

/** The stream placement of a region's assets under `layout`. */
export function placementIn(
  layout: RegionLayout,
  region: string,
): { replicas: number; placement?: { cluster: string; tags: string[] } } {
  return {
    replicas: layout.replicas,
    ...(layout.placement ? { placement: { cluster: "", tags: [regionTag(region)] } } : {}),
  };
}

/** Options of {@link openKv}. */
export interface OpenKvOptions {
  /** Values kept per key. */
  history: number;
  /** Age after which values expire, ms. */
  ttl?: number;
}

const coherences = new WeakMap<NatsConnection, Map<string, Coherence>>();

/**
 * What the instance on `nc` knows of its mirror of global `bucket` (how its reads were
 * answered, the last error the original met), or undefined when it reads no mirror of it.
 */
export function coherenceOf(nc: NatsConnection, bucket: string): Readonly<Coherence> | undefined {
  return coherences.get(nc)?.get(bucket);
}

/** What every KV opened through `nc` on `bucket` shares (the writes it made, the mirror's freshness). */
function sharedCoherence(nc: NatsConnection, bucket: string): Coherence {
  let byBucket = coherences.get(nc);
  if (!byBucket) coherences.set(nc, byBucket = new Map());
  let c = byBucket.get(bucket);
  if (!c) byBucket.set(bucket, c = coherence());
  return c;
}

/**
 * Runs `fn` again (up to three times in all) when it meets a passing NATS error: in a
 * supercluster, creating or looking up a stream waits on the metadata leader or the stream's,
 * which may be being elected when several instances start at once.
 */
function retrying<T>(fn: () => Promise<T>): Promise<T> {
  return retry(fn, {
    attempts: 3,
    retryIf: isTransientNatsError,
    delayMs: (attempt) => 500 * attempt,
  });
}

/**
 * Opens `bucket` as `nc`'s layout places it (creating what is missing): the region's own copy of
 * a regional bucket, the original of a global one in the primary region, else its mirror.
 */
export function openKv(
  nc: NatsConnection,
  bucket: string,
  options: OpenKvOptions,
): Promise<KV> {
  return retrying(() => openKvOnce(nc, bucket, options));
}

async function openKvOnce(
  nc: NatsConnection,
  bucket: string,
  options: OpenKvOptions,
): Promise<KV> {
  const layout = regionLayout(nc);
  // Creating a replicated stream goes through the supercluster's metadata leader, which can
  // take longer than a read's 5 s when several instances start at once.
  const kvm = new Kvm(jetstream(nc, { timeout: CREATE_TIMEOUT_MS }));
  // Reads go to the stream's leader, never Direct Get: any replica and any mirror answer a
  // Direct Get, including one that has not applied the latest writes (see coherent_kv.ts).
  // Updates are atomic compare-and-swaps on replicated streams too (see atomic_updates.ts).
  const open = async (name: string, streamName?: string) =>
    atomicUpdates(
      await new Kvm(nc).open(name, { ...(streamName ? { streamName } : {}), allow_direct: false }),
      { js: jetstream(nc), bucket: name },
    );
  const limits = {
    history: options.history,
    ...(options.ttl ? { ttl: options.ttl } : {}),
  };
  if (isRegionalBucket(bucket)) {
    const name = bucketIn(bucket, layout.region);
    await kvm.create(name, { ...limits, ...placementIn(layout, layout.region) });
    return await open(name);
  }
  if (!layout.placement || layout.region === layout.primary) {
    await kvm.create(bucket, { ...limits, ...placementIn(layout, layout.primary) });
    return await open(bucket);
  }
  const mirror = mirrorOf(bucket, layout.region);
  const stream = kvStreamOf(mirror);
  const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: CREATE_TIMEOUT_MS });
  try {
    await jsm.streams.info(stream);
  } catch (e) {
    if (!isStreamNotFound(e)) throw e;
    // First start in this region: the original (in the primary region), then its mirror here.
    await kvm.create(bucket, { ...limits, ...placementIn(layout, layout.primary) });
    await kvm.create(
      mirror,
      {
        ...limits,
        ...placementIn(layout, layout.region),
        mirror: { name: bucket },
      } as Parameters<Kvm["create"]>[1],
    );
  }
  await caughtUp(jsm, kvStreamOf(bucket), stream);
  // Reads and watches from the mirror; writes go to the original's subjects. A read the
  // mirror cannot answer for (a key it lacks, or holds older than written, or a mirror not
  // known fresh) goes to the original's leader.
  return coherentKv(await open(bucket, stream), {
    original: await open(bucket),
    jsm: await jetstreamManager(nc, { checkAPI: false }),
    mirrorStream: stream,
    originStream: kvStreamOf(bucket),
    shared: sharedCoherence(nc, bucket),
  });
}

/**
 * Waits (up to 10 s) until `mirror` holds what `origin` held when called, so an instance that
 * starts reads what was written before it; returns at once when the origin cannot be reached
 * (its region is down: the mirror is what there is).
 */
async function caughtUp(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  origin: string,
  mirror: string,
): Promise<void> {
  const target = await jsm.streams.info(origin).then((i) => i.state.last_seq, () => undefined);
  if (target === undefined) return;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const have = await jsm.streams.info(mirror).then((i) => i.state.last_seq, () => 0);
    if (have >= target) return;
    await sleep(100);
  }
}

/**
 * Opens object store `bucket` as `nc`'s layout places it: a regional one in the region, a
 * global one in the primary region (with {@link ensureObjectMirror} keeping a copy elsewhere).
 */
export function openObjectStore(
  nc: NatsConnection,
  bucket: string,
  options: Partial<ObjectStoreOptions> = {},
): Promise<ObjectStore> {
  const layout = regionLayout(nc);
  const home = isRegionalBucket(bucket) ? layout.region : layout.primary;
  return retrying(() =>
    new Objm(jetstream(nc, { timeout: CREATE_TIMEOUT_MS })).create(
      bucketIn(bucket, home),
      {
        ...options,
        ...placementIn(layout, home),
      } as Partial<ObjectStoreOptions>,
    )
  );
}

/**
 * Opens region `region`'s copy of regional object store `bucket` to read it (across the
 * gateway when it is another region's); undefined when that region has none or cannot answer.
 */
export async function openRegionObjectStore(
  nc: NatsConnection,
  bucket: string,
  region: string,
): Promise<ObjectStore | undefined> {
  if (!isRegionalBucket(bucket)) {
    throw new TypeError(`Cannot open region ${region}'s "${bucket}": it is not a regional bucket`);
  }
  if (region === regionLayout(nc).region) return await openObjectStore(nc, bucket);
  const name = bucketIn(bucket, region);
  try {
    // Its stream asked first: nats.js says a store is missing only in a plain Error's words.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await jsm.streams.info(objectStreamOf(name));
    return await new Objm(nc).open(name);
  } catch (e) {
    // The two conditions above: no such store there, or a region that does not answer (down,
    // or its gateway cut). Anything else throws.
    if (isStreamNotFound(e) || isTransientNatsError(e)) return undefined;
    throw e;
  }
}

/**
 * Makes sure `nc`'s region keeps a mirror of global object store `bucket` (none is needed in the
 * primary region or on a single server); returns the stream devices of the region read from.
 */
export async function ensureObjectMirror(nc: NatsConnection, bucket: string): Promise<string> {
  const layout = regionLayout(nc);
  if (!layout.placement || layout.region === layout.primary) return objectStreamOf(bucket);
  const stream = objectStreamOf(mirrorOf(bucket, layout.region));
  const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: CREATE_TIMEOUT_MS });
  await retrying(() => ensureMirrorStream(jsm, layout, bucket, stream));
  return stream;
}

async function ensureMirrorStream(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  layout: RegionLayout,
  bucket: string,
  stream: string,
): Promise<void> {
  try {
    await jsm.streams.info(stream);
  } catch (e) {
    if (!isStreamNotFound(e)) throw e;
    const { replicas, placement } = placementIn(layout, layout.region);
    const config: Partial<StreamConfig> & { name: string } = {
      name: stream,
      num_replicas: replicas,
      ...(placement ? { placement } : {}),
      mirror: { name: objectStreamOf(bucket) } as StreamSource,
      allow_direct: true,
      mirror_direct: true,
      allow_rollup_hdrs: true,
    };
    await jsm.streams.add(config);
  }
}
