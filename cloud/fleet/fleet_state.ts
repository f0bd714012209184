/**
 * The fleet's state in JetStream: KV buckets for current state (registry, status, commands,
 * alerts, service settings), with in-memory replicas for queries, and compare-and-swap writes
 * against the KV revision (the API's ETag).
 *
 * @module
 */
import { KvReplica, openKv } from "../nats/mod.ts";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { isRevisionConflict, type Logger, RevisionConflictError } from "../../runtime/mod.ts";
import { buckets } from "../../protocol/mod.ts";
import {
  type AlertRecord,
  AlertRecordSchema,
  decodeStatus,
  decodeWith,
  type DeviceRecord,
  DeviceRecordSchema,
  type DeviceStatus,
  type GroupRecord,
  GroupRecordSchema,
} from "./fleet_model.ts";

const encoder = new TextEncoder();

// The compare-and-swap conflict (its check and its error) is runtime's, kept here for the
// fleet's callers.
export { isRevisionConflict, RevisionConflictError };

/** Writes `value` at `key`: create when `revision` is 0, compare-and-swap when positive, plain put when undefined. */
export async function putJson(
  kv: KV,
  key: string,
  value: unknown,
  revision?: number,
): Promise<number> {
  const data = encoder.encode(JSON.stringify(value));
  try {
    if (revision === undefined) return await kv.put(key, data);
    if (revision === 0) return await kv.create(key, data);
    return await kv.update(key, data, revision);
  } catch (cause) {
    if (isRevisionConflict(cause)) {
      throw new RevisionConflictError(
        key,
        revision === 0 ? `${key} exists already` : `${key} changed since revision ${revision}`,
        { cause },
      );
    }
    throw cause;
  }
}

/** The buckets and replicas of one cloud instance. */
export class FleetState implements AsyncDisposable {
  private constructor(
    /** Registry bucket (`device.<id>`, `group.<id>`). */
    readonly registry: KV,
    /** Status bucket (`<deviceId>`). */
    readonly status: KV,
    /** Commands bucket (`<commandId>`). */
    readonly commands: KV,
    /** Alerts bucket (`<kind>.<deviceId>`). */
    readonly alerts: KV,
    /** Service settings bucket. */
    readonly service: KV,
    /** Registered devices. */
    readonly devices: KvReplica<DeviceRecord>,
    /** Groups. */
    readonly groups: KvReplica<GroupRecord>,
    /** Device statuses. */
    readonly statuses: KvReplica<DeviceStatus>,
    /** Raised alerts. */
    readonly raised: KvReplica<AlertRecord>,
  ) {}

  /** Opens (creating when missing) the buckets and loads the replicas. */
  static async open(
    nc: NatsConnection,
    options: { readonly logger?: Logger } = {},
  ): Promise<FleetState> {
    const logger = options.logger ? { logger: options.logger } : {};
    const [registry, status, commands, alerts, service] = await Promise.all([
      openKv(nc, buckets.registry, { history: 5 }),
      openKv(nc, buckets.status, { history: 1 }),
      openKv(nc, buckets.commands, { history: 1, ttl: 7 * 24 * 3_600_000 }),
      openKv(nc, buckets.alerts, { history: 1 }),
      openKv(nc, buckets.service, { history: 1 }),
    ]);
    const [devices, groups, statuses, raised] = await Promise.all([
      KvReplica.open(registry, {
        prefix: "device.",
        decode: decodeWith(DeviceRecordSchema),
        ...logger,
      }),
      KvReplica.open(registry, {
        prefix: "group.",
        decode: decodeWith(GroupRecordSchema),
        ...logger,
      }),
      KvReplica.open(status, { decode: decodeStatus, ...logger }),
      KvReplica.open(alerts, { decode: decodeWith(AlertRecordSchema), ...logger }),
    ]);
    return new FleetState(
      registry,
      status,
      commands,
      alerts,
      service,
      devices,
      groups,
      statuses,
      raised,
    );
  }

  /** Stops the replicas. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(
      [this.devices, this.groups, this.statuses, this.raised].map((r) => r[Symbol.asyncDispose]()),
    );
  }
}
