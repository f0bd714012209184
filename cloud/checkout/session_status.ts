/**
 * Answers devices' questions about their door sessions' payment (`vs.<region>.dev.<d>.sessions`):
 * `settled`, `disputed`, `open` or `none`, so a device knows when its clips may be evicted. A
 * device learns this only for sessions its cabinet was unlocked for: the device the cloud sent
 * the unlock to, or a device provisioned into the same machine. Devices never read the payment
 * events themselves (they name customers and amounts).
 *
 * @example
 * ```ts
 * import { serveSessionStatus } from "./session_status.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * await serveSessionStatus(nc, { region: "local" });
 * ```
 *
 * @module
 */
import { openKv } from "../nats/mod.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import {
  buckets,
  deviceSubjectParts,
  filters,
  parsePaymentEvent,
  type PaymentEventType,
  type SessionStatusReply,
  SessionStatusRequestSchema,
  streamName,
  subjects,
} from "../../protocol/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** Payment event types after which a session's clips may be evicted. */
const SETTLED: ReadonlySet<PaymentEventType> = new Set<PaymentEventType>([
  "captured",
  "receipt_issued",
  "hold_released",
  "refunded",
  "failed",
]);

/** Starts answering; resolves once subscribed. */
export async function serveSessionStatus(
  nc: NatsConnection,
  options: { region: string; logger?: Logger; signal?: AbortSignal },
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const credentials = await openKv(nc, buckets.deviceCredentials, { history: 5 });
  const stream = streamName("PAYMENTS", options.region);
  // Nothing stored reads as null; a read that fails propagates (the device gets no answer and
  // asks again) rather than answer "none" or "open" for a session it cannot see.
  const event = async (sessionId: string, type: PaymentEventType) => {
    const m = await jsm.streams.getMessage(stream, {
      last_by_subj: subjects.payment({ region: options.region, sessionId }, type),
    });
    const e = m ? parsePaymentEvent(m.data) : undefined;
    return m && e?.ok ? { seq: m.seq, value: e.value } : undefined;
  };
  const machineOf = async (deviceId: string) => {
    const r = await credentials.get(deviceId);
    return r?.operation === "PUT" ? r.json<{ machineId?: string }>().machineId : undefined;
  };
  const answer = async (msg: Msg): Promise<void> => {
    const { deviceId } = deviceSubjectParts(msg.subject);
    let parsed;
    try {
      parsed = SessionStatusRequestSchema.safeParse(msg.json());
    } catch (e) {
      // Not JSON: answered with no sessions, like any request that is not one.
      if (!(e instanceof SyntaxError)) throw e;
      parsed = undefined;
    }
    const reply: SessionStatusReply = { sessions: {} };
    if (!parsed?.success) {
      msg.respond(JSON.stringify(reply));
      return;
    }
    const mine = await machineOf(deviceId);
    for (const sessionId of parsed.data.sessionIds) {
      const unlock = await event(sessionId, "unlock_sent");
      const started = await event(sessionId, "session_started");
      const unlockedHere = unlock?.value.type === "unlock_sent" &&
        unlock.value.deviceId === deviceId;
      const sameMachine = mine !== undefined && started?.value.machineId === mine;
      if (!unlockedHere && !sameMachine) {
        reply.sessions[sessionId] = "none";
        continue;
      }
      let last: { seq: number; type: PaymentEventType } | undefined;
      for (const type of [...SETTLED, "disputed"] as PaymentEventType[]) {
        const e = await event(sessionId, type);
        if (e && (!last || e.seq > last.seq)) last = { seq: e.seq, type };
      }
      reply.sessions[sessionId] = last === undefined
        ? "open"
        : last.type === "disputed"
        ? "disputed"
        : "settled";
    }
    msg.respond(JSON.stringify(reply));
  };
  const sub = nc.subscribe(filters.sessionStatusRequests({ region: options.region }), {
    queue: "session-status",
    callback: (_e, msg) => {
      answer(msg).catch((e) =>
        options.logger?.log("error", "session status failed", { error: (e as Error).message })
      );
    },
  });
  options.signal?.addEventListener("abort", () => sub.unsubscribe(), { once: true });
  await nc.flush();
}
