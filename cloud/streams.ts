/**
 * Creates or updates a region's JetStream streams from the specifications in protocol/.
 *
 * @module
 */
import { jetstreamManager, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import { regionStreams, type StreamSpec } from "../protocol/mod.ts";

function toConfig(spec: StreamSpec): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    description: spec.description,
    subjects: [...spec.subjects],
    storage: StorageType.File,
    max_age: nanos(spec.maxAgeMs),
    duplicate_window: nanos(spec.duplicateWindowMs),
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
  return names;
}
