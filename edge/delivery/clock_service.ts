/**
 * Clock sync over NATS request/reply: the primary device answers on
 * `vs.<r>.dev.<primary>.clock` with its receive and send times; the secondary's probe asks it.
 *
 * @example
 * ```ts
 * import { natsClockProbe, serveClock } from "./clock_service.ts";
 * import { runClockSync } from "../../pipeline/mod.ts";
 *
 * // on the primary:   serveClock(nc, { region: "local", deviceId: "m001-a" });
 * // on the secondary: const model = await runClockSync(natsClockProbe(nc, primary, { deviceId: "m001-b" }), { signal });
 * ```
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import {
  clockSync,
  type DeviceAddress,
  newEnvelope,
  parseClockSync,
  subjects,
} from "../../protocol/mod.ts";
import type { ClockProbe } from "../../pipeline/mod.ts";

/** Answers clock sync requests for device `self` until the signal aborts or the connection closes. */
export function serveClock(
  nc: NatsConnection,
  self: DeviceAddress,
  options: { now?: () => number; signal?: AbortSignal; onError?: (e: Error) => void } = {},
): Promise<void> {
  const now = options.now ?? (() => performance.timeOrigin + performance.now());
  const sub = nc.subscribe(subjects.clock(self), {
    callback: (_err, msg) => {
      const t1 = now();
      const req = parseClockSync(msg.data);
      if (!req.ok || req.value.kind !== "request") {
        options.onError?.(req.ok ? new Error("clock sync: expected a request") : req.error);
        return;
      }
      msg.respond(
        clockSync.encode({
          ...newEnvelope(),
          deviceId: self.deviceId,
          kind: "reply",
          t0: req.value.t0,
          t1,
          t2: now(),
        }),
      );
    },
  });
  options.signal?.addEventListener("abort", () => sub.unsubscribe(), { once: true });
  return nc.flush();
}

/** A {@link ClockProbe} that asks `primary` over NATS, sending as device `options.deviceId`. */
export function natsClockProbe(
  nc: NatsConnection,
  primary: DeviceAddress,
  options: { deviceId: string },
): ClockProbe {
  return {
    async exchange(t0, opts = {}) {
      opts.signal?.throwIfAborted();
      const msg = await nc.request(
        subjects.clock(primary),
        clockSync.encode({ ...newEnvelope(), deviceId: options.deviceId, kind: "request", t0 }),
        { timeout: 1000 },
      );
      const reply = parseClockSync(msg.data);
      if (!reply.ok) throw reply.error;
      if (reply.value.kind !== "reply" || reply.value.t0 !== t0) {
        throw new Error("clock sync: reply does not answer this request");
      }
      return { t1: reply.value.t1, t2: reply.value.t2 };
    },
  };
}
