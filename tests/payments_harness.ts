/**
 * Shared pieces of the payment tests: a simulated machine (its primary device answers the
 * cloud's unlock commands over NATS, as the agent does, and records them) and the door session's
 * outcome as a machine publishes it.
 *
 * @example
 * ```ts
 * import { sessionCompleted, simulatedMachine } from "./payments_harness.ts";
 *
 * await using machine = await simulatedMachine(nc, { machineId: "m001" });
 * // ... start a payment session for m001; machine.unlocked lists its session id
 * await js.publish(machine.subject, pipelineEvent.encode(sessionCompleted(id, cart)));
 * ```
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  commandReply,
  filters,
  newEnvelope,
  parseCommandRequest,
  parsePaymentEvent,
  type PaymentEvent,
  type PipelineEvent,
  signedCommand,
  streamName,
  subjects,
} from "../protocol/mod.ts";

/** A door session's outcome. */
export type Completed = Extract<PipelineEvent, { type: "session_completed" }>;

/** The door session's outcome as a machine (`m001` unless told, device `<machine>-a`) publishes it. */
export function sessionCompleted(
  sessionId: string,
  cart: Array<{ sku: string; qty: number }>,
  options: { review?: string[]; confidence?: number; machineId?: string; modelVersion?: string } =
    {},
): Completed {
  const review = options.review ?? [];
  const machineId = options.machineId ?? "m001";
  return {
    v: 1,
    id: `${sessionId.slice(0, 58)}-done`,
    ts: Date.now(),
    deviceId: `${machineId}-a`,
    machineId,
    type: "session_completed",
    sessionId,
    openedAt: Date.now() - 5000,
    closedAt: Date.now(),
    cart,
    confidence: options.confidence ?? 0.97,
    review: { required: review.length > 0, reasons: review },
    modelVersion: options.modelVersion ?? "1.0.0",
  };
}

/** A simulated machine's primary device on NATS. */
export interface SimulatedMachine extends AsyncDisposable {
  /** The payment session ids it was unlocked for, in order. */
  readonly unlocked: string[];
  /** Where its door-session outcomes go. */
  readonly subject: string;
}

/**
 * Answers `unlock` commands to `<machineId>-a` in `region` (default `local`) with `ok`, as the
 * agent does once the lock is released. The device must be registered (or heard from) for the
 * cloud to send them.
 */
export async function simulatedMachine(
  nc: NatsConnection,
  options: { readonly machineId: string; readonly region?: string },
): Promise<SimulatedMachine> {
  const region = options.region ?? "local";
  const deviceId = `${options.machineId}-a`;
  const unlocked: string[] = [];
  const sub = nc.subscribe(subjects.command({ region, deviceId }, "unlock"), {
    callback: (_err, msg) => {
      // The cloud signs every command (a real device checks the signature; this stand-in only
      // unwraps it).
      const signed = signedCommand.parse(msg.data);
      if (!signed.ok) return;
      const request = parseCommandRequest(signed.value.command);
      if (!request.ok || request.value.command !== "unlock") return;
      unlocked.push(String(request.value.args.sessionId));
      msg.respond(commandReply.encode({
        ...newEnvelope(),
        deviceId,
        commandId: request.value.id,
        status: "ok",
        result: { door: "unlocked" },
      }));
    },
  });
  await nc.flush();
  return {
    unlocked,
    subject: subjects.pipelineEvent({ region, deviceId }, "session_completed"),
    async [Symbol.asyncDispose]() {
      sub.unsubscribe();
      await nc.flush().catch(() => {});
    },
  };
}

/** Every event of one payment session in the region's PAYMENTS stream, in order. */
export async function paymentEvents(
  nc: NatsConnection,
  sessionId: string,
  options: { region?: string } = {},
): Promise<PaymentEvent[]> {
  const region = options.region ?? "local";
  const consumer = await jetstream(nc).consumers.get(streamName("PAYMENTS", region), {
    filter_subjects: filters.payments(region, { sessionId }),
  });
  const out: PaymentEvent[] = [];
  while (true) {
    const batch = await consumer.fetch({ max_messages: 100, expires: 1000 });
    let n = 0;
    for await (const m of batch) {
      n++;
      const e = parsePaymentEvent(m.data);
      if (!e.ok) throw new Error(`Invalid payment event on ${m.subject}: ${e.error.message}`);
      out.push(e.value);
    }
    if (n === 0) break;
  }
  return out;
}
