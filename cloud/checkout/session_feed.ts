/**
 * The payment events of a region's sessions as they are published
 * (`vs.<region>.pay.<sessionId>.<type>`), for what changes with them (the sessions pages and the
 * customer's session page): each arrives as its subject's parts, which session and which event,
 * without its body being decoded (what changed is read from the payment service). A feed takes a
 * callback and returns its unsubscription, what the pages' live streams hold until their client
 * goes away.
 *
 * @example
 * ```ts
 * import { SessionFeed } from "./session_feed.ts";
 *
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * const feed = new SessionFeed(nc, "eu-west");
 * const stop = feed.onEvents((e) => console.log(e.sessionId, e.type));
 * stop();
 * ```
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { filters, type PaymentSubjectParts, paymentSubjectParts } from "../../protocol/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** Options of {@link SessionFeed}. */
export interface SessionFeedOptions {
  /** Where a feed the server ends (a permissions violation) is said. */
  readonly logger?: Logger;
}

/** The region's payment events, followed live. */
export class SessionFeed {
  readonly #nc: NatsConnection;
  readonly #region: string;
  readonly #logger: Logger | undefined;

  /** The feed of `region`'s sessions over `nc`. */
  constructor(nc: NatsConnection, region: string, options: SessionFeedOptions = {}) {
    this.#nc = nc;
    this.#region = region;
    this.#logger = options.logger;
  }

  /**
   * Calls `onEvent` with the session and type of each payment event published in the region
   * from now on (of `sessionId` only, when given); returns the unsubscription.
   */
  onEvents(
    onEvent: (event: PaymentSubjectParts) => void,
    options: { readonly sessionId?: string } = {},
  ): () => void {
    const filter = filters.payments(
      this.#region,
      options.sessionId ? { sessionId: options.sessionId } : {},
    );
    const sub = this.#nc.subscribe(filter, {
      callback: (err, m) => {
        if (err) {
          // The server ended the subscription: the feed stops (nothing more is delivered), said.
          this.#logger?.log("warn", "a session feed ended", { filter, error: String(err) });
          return;
        }
        // The filter admits only payment subjects: their parts are always there to read.
        onEvent(paymentSubjectParts(m.subject));
      },
    });
    return () => sub.unsubscribe();
  }
}
