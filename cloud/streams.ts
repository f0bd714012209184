/**
 * Creates or updates a region's JetStream streams from the specifications in protocol/, and the
 * buckets devices use (they may not create any: their credentials only reach their own keys).
 *
 * @module
 */
import { jetstreamManager, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { buckets, regionStreams, type StreamSpec } from "../protocol/mod.ts";

function toConfig(spec: StreamSpec): Partial<StreamConfig> & { name: string } {
  return {
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

function isNotFound(e: unknown): boolean {
  return e instanceof Error && /stream not found/i.test(e.message);
}

/** Makes sure every stream of `region` exists with its current configuration; returns their names. */
export async function ensureStreams(nc: NatsConnection, region: string): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for (const spec of regionStreams(region)) {
    const config = toConfig(spec);
    try {
      await jsm.streams.info(spec.name);
      await jsm.streams.update(spec.name, config);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await jsm.streams.add(config);
    }
    names.push(spec.name);
  }
  await ensureDeviceBuckets(nc);
  return names;
}

/**
 * Makes sure the buckets devices read and write exist: shadows, component manifests, artifact
 * chunks, clips and snapshots.
 */
export async function ensureDeviceBuckets(nc: NatsConnection): Promise<void> {
  const kvm = new Kvm(nc);
  const objm = new Objm(nc);
  await kvm.create(buckets.shadow, { history: 5 });
  await kvm.create(buckets.components, { history: 1 });
  await objm.create(buckets.artifacts);
  await objm.create(buckets.clips);
  await objm.create(buckets.snapshots);
}
