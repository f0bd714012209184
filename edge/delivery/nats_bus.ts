/**
 * NATS adapters for the pipeline's small interfaces: a {@link Publisher}, and the payloads of a
 * subject as a bounded async iterable (live data: when the reader falls behind, the oldest
 * payloads are dropped and counted, never queued without bound).
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Publisher } from "../../pipeline/mod.ts";

/** Publishes on core NATS through `nc`. */
export function natsPublisher(nc: NatsConnection): Publisher {
  return { publish: (subject, data) => nc.publish(subject, data) };
}

/** Options of {@link natsMessages}. */
export interface NatsMessagesOptions {
  /** Payloads held for a slow reader before the oldest are dropped. Default 8. */
  readonly capacity?: number;
  /** Ends the iteration. */
  readonly signal?: AbortSignal;
}

/** Live payloads of a subject. */
export interface NatsMessages extends AsyncIterable<Uint8Array> {
  /** Resolves once the server knows of the subscription. */
  readonly ready: Promise<void>;
  /** Payloads dropped because the reader was behind. */
  readonly dropped: number;
}

/** The payloads published on `subject`; the iteration ends when the signal aborts. */
export function natsMessages(
  nc: NatsConnection,
  subject: string,
  options: NatsMessagesOptions = {},
): NatsMessages {
  const capacity = options.capacity ?? 8;
  const queue: Uint8Array[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  let dropped = 0;
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) {
        done = true;
      } else {
        queue.push(msg.data);
        if (queue.length > capacity) {
          queue.shift();
          dropped++;
        }
      }
      wake?.();
    },
  });
  const stop = () => {
    done = true;
    sub.unsubscribe();
    wake?.();
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  sub.closed.then(() => {
    done = true;
    wake?.();
  });
  return {
    ready: nc.flush(),
    get dropped() {
      return dropped;
    },
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          while (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r));
          const next = queue.shift();
          if (next === undefined) return;
          yield next;
        }
      } finally {
        stop();
      }
    },
  };
}
