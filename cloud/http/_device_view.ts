/**
 * A device as the fleet routes show it (its registry record and its last status), its group
 * membership, and the path parameter naming it.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { DeviceIdSchema, type DeviceView } from "../fleet/mod.ts";
import type { FleetDeps } from "./fleet_env.ts";

/** The path parameter `{id}` of a device's (or a group's) routes. */
export const IdParam: z.ZodObject<{ id: typeof DeviceIdSchema }> = z.object({ id: DeviceIdSchema });

/** The device `id` as the replicas hold it: undefined when neither registered nor heard of. */
export function view(deps: FleetDeps, id: string): DeviceView | undefined {
  const record = deps.state.devices.get(id)?.value ?? null;
  const status = deps.state.statuses.get(id)?.value ?? null;
  if (!record && !status) return undefined;
  return { id, registered: record !== null, record, status };
}

/** Whether `v` is in group `groupId`: named in its `groups`, or carrying all the group's tags. */
export function inGroup(deps: FleetDeps, groupId: string, v: DeviceView): boolean {
  if (v.record?.groups.includes(groupId)) return true;
  const group = deps.state.groups.get(groupId)?.value;
  if (!group || group.tagQuery.length === 0 || !v.record) return false;
  return group.tagQuery.every((t) => v.record!.tags.includes(t));
}
