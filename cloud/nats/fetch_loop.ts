/**
 * The fetch loop of a durable consumer the cloud instances share: batches fetched until the
 * signal aborts, up to `concurrency` messages handled at once, a handler's failure logged (the
 * message, unacknowledged, comes again after the ack wait), a failed fetch logged and tried again.
 *
 * @module
 */
import type { Consumer, JsMsg } from "@nats-io/jetstream";
import { type Logger, sleep } from "../../runtime/mod.ts";

/** Options of {@link fetchLoop}. */
export interface FetchLoopOptions {
  readonly signal: AbortSignal;
  /** Messages per fetch. */
  readonly maxMessages: number;
  /** Messages handled at once. Default 1 (in stream order). */
  readonly concurrency?: number;
  readonly logger?: Logger | undefined;
  /** What is consumed, in the log lines (e.g. "door-session outcomes"). */
  readonly what: string;
}

/** Runs `handle` on `consumer`'s messages until the signal aborts; see the module documentation. */
export async function fetchLoop(
  consumer: Consumer,
  handle: (m: JsMsg) => Promise<void>,
  options: FetchLoopOptions,
): Promise<void> {
  const { signal, logger, what } = options;
  let current: { stop(): void } | undefined;
  signal.addEventListener("abort", () => current?.stop(), { once: true });
  const limit = options.concurrency ?? 1;
  while (!signal.aborted) {
    try {
      const batch = await consumer.fetch({ max_messages: options.maxMessages, expires: 1000 });
      current = batch;
      const inflight = new Set<Promise<void>>();
      for await (const m of batch) {
        const job: Promise<void> = handle(m).catch((err) =>
          // Unacknowledged, the message comes again after the ack wait.
          logger?.log("error", `${what}: a message could not be handled; it comes again`, {
            subject: m.subject,
            error: String(err),
          })
        ).finally(() => inflight.delete(job));
        inflight.add(job);
        if (inflight.size >= limit) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    } catch (err) {
      if (signal.aborted) break;
      logger?.log("warn", `${what} could not be fetched; trying again`, { error: String(err) });
      await sleep(500);
    }
  }
}
