/**
 * The writer of the audit log: every entry the API appends to the region's AUDIT stream.
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import type { Context } from "hono";
import { type AuditEntry, auditEntry, newEnvelope, subjects } from "../../protocol/mod.ts";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";

/** Appends an audit entry to the AUDIT stream. */
export async function audit(
  deps: FleetDeps,
  c: Context<FleetEnv>,
  entry: Pick<AuditEntry, "action" | "target" | "outcome" | "before" | "after" | "reason">,
): Promise<void> {
  const actor = c.get("actor");
  const record: AuditEntry = {
    ...newEnvelope(),
    actor: actor
      ? { subject: actor.subject, role: actor.role }
      : { subject: "anonymous", role: "anonymous" },
    requestId: c.get("requestId"),
    ...entry,
  };
  await jetstream(deps.nc).publish(
    subjects.audit(deps.region, entry.action),
    auditEntry.encode(record),
    { msgID: record.id },
  );
}
