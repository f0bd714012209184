/**
 * The outcome consumer: the region's door-session outcomes (`session_completed` events) read
 * through a durable consumer the cloud instances share, each cart handed to the flow once it is
 * known to come from the device the session's unlock went to. A message is acknowledged once its
 * step is stored, so a crash before that redelivers it.
 *
 * @module
 */
import { fetchLoop, isConsumerExists, isTransientNatsError } from "../nats/mod.ts";
import {
  AckPolicy,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import { ProviderUnavailableError } from "../../payments/mod.ts";
import {
  type AuditEntry,
  auditEntry,
  deviceSubjectParts,
  filters,
  newEnvelope,
  parsePipelineEvent,
  type PipelineEvent,
  streamName,
  subjects,
} from "../../protocol/mod.ts";
import type { PaymentFlow } from "./_payment_flow.ts";
import type { PaymentServiceOptions } from "./_payment_options.ts";
import { unlockedDevice } from "./_session_log.ts";

type DoorOutcome = Extract<PipelineEvent, { type: "session_completed" }>;

/** What {@link OutcomeConsumer} works with. */
export interface OutcomeConsumerParts {
  readonly options: PaymentServiceOptions;
  /** Where each cart goes. */
  readonly flow: Pick<PaymentFlow, "cartArrived">;
}

/** Consumes door-session outcomes into the payment flow. */
export class OutcomeConsumer {
  readonly #nc: NatsConnection;
  readonly #o: PaymentServiceOptions;
  readonly #flow: Pick<PaymentFlow, "cartArrived">;

  /** Creates the consumer (nothing is read before {@link run}). */
  constructor(nc: NatsConnection, parts: OutcomeConsumerParts) {
    this.#nc = nc;
    this.#o = parts.options;
    this.#flow = parts.flow;
  }

  /**
   * Consumes the region's door-session outcomes (a durable consumer shared by the cloud
   * instances) until `signal` aborts; a message is acknowledged once its step is stored, so a
   * crash before that redelivers it.
   */
  async run(signal: AbortSignal): Promise<void> {
    const jsm = await jetstreamManager(this.#nc);
    const stream = streamName("EVENTS", this.#o.region);
    await this.#ensureConsumer(jsm, stream);
    const consumer = await jetstream(this.#nc).consumers.get(stream, "payments");
    // Sessions are independent: several at once (a repeat of one is safe: compare-and-swap).
    await fetchLoop(consumer, (m) => this.#handle(jsm, m), {
      signal,
      maxMessages: 128,
      concurrency: this.#o.concurrency ?? 32,
      logger: this.#o.logger,
      what: "door-session outcomes",
    });
  }

  /** Adds the durable `payments` consumer on `stream`, or finds it there. */
  async #ensureConsumer(jsm: JetStreamManager, stream: string): Promise<void> {
    await jsm.consumers.add(stream, {
      durable_name: "payments",
      ack_policy: AckPolicy.Explicit,
      // A handler still at work says so (below); one that died is redelivered after this.
      ack_wait: nanos(15_000),
      filter_subject: filters.pipelineEvents({ region: this.#o.region }, "session_completed"),
    }).catch((err) => {
      // Already there (another instance made it): used as is. Anything else is said; reading the
      // consumer below fails on its own if it is really missing.
      if (isConsumerExists(err)) return;
      this.#o.logger?.log("warn", "the payments consumer could not be made", {
        stream,
        error: String(err),
      });
    });
  }

  /** Handles one message: acknowledged when done with, left or refused otherwise. */
  async #handle(jsm: JetStreamManager, m: JsMsg): Promise<void> {
    const e = parsePipelineEvent(m.data);
    const sender = deviceSubjectParts(m.subject).deviceId;
    if (e.ok && e.value.type === "session_completed") {
      if (!(await this.#fromUnlockedDevice(jsm, m, { event: e.value, sender }))) return;
      if (!(await this.#record(m, e.value))) return;
    }
    m.ack();
  }

  /**
   * Whether the cart comes from the device the session's unlock went to (or the session has no
   * unlock); when not, the message has been taken care of (redelivered, or refused).
   */
  async #fromUnlockedDevice(
    jsm: JetStreamManager,
    m: JsMsg,
    cart: { readonly event: DoorOutcome; readonly sender: string },
  ): Promise<boolean> {
    const { event, sender } = cart;
    let unlocked: string | undefined;
    try {
      // From the stream's leader (a Direct Get may be answered by a replica that is behind, and
      // a missing unlock would let any device's cart through); a failed read is redelivered.
      unlocked = await unlockedDevice(jsm, { region: this.#o.region, sessionId: event.sessionId });
    } catch (err) {
      if (!isTransientNatsError(err)) throw err;
      this.#o.logger?.log("warn", "cart's unlock could not be read; it is redelivered", {
        sessionId: event.sessionId,
        error: String(err),
      });
      m.nak(2000);
      return false;
    }
    if (unlocked !== undefined && unlocked !== sender) {
      // A cart from another device than the one unlocked (a stolen device that learnt a
      // session id): never charged.
      await this.#refuse(event, { sender, unlocked });
      m.term();
      return false;
    }
    return true;
  }

  /** Logs and audits a cart from another device than the one unlocked. */
  async #refuse(
    event: DoorOutcome,
    from: { readonly sender: string; readonly unlocked: string },
  ): Promise<void> {
    const reason = `cart for ${event.sessionId} from ${from.sender}, unlocked at ${from.unlocked}`;
    this.#o.logger?.log("warn", "cart refused: not from the unlocked device", { reason });
    const entry: AuditEntry = {
      ...newEnvelope(),
      actor: { subject: `device:${from.sender}`, role: "device" },
      action: "payment.cart_refused",
      target: `session/${event.sessionId}`,
      outcome: "refused",
      requestId: event.id,
      before: null,
      after: null,
      reason: reason.slice(0, 200),
    };
    await jetstream(this.#nc).publish(
      subjects.audit(this.#o.region, entry.action),
      auditEntry.encode(entry),
    ).catch((err) =>
      // The cart is refused all the same (and logged above); the audit entry is lost.
      this.#o.logger?.log("warn", "cart refusal not audited", {
        target: entry.target,
        error: String(err),
      })
    );
  }

  /**
   * Hands the cart to the flow; whether the message is to be acknowledged (false: it was left
   * to come again).
   */
  async #record(m: JsMsg, event: DoorOutcome): Promise<boolean> {
    const working = setInterval(() => m.working(), 5000);
    try {
      const session = await this.#flow.cartArrived(event);
      if (session === undefined && m.info.deliveryCount < 5) {
        // No such session, as read: a replica that is behind (a region just came back)
        // may say so about one that exists. Again in a moment, a few times.
        m.nak(2000);
        return false;
      }
    } catch (err) {
      if (err instanceof ProviderUnavailableError || isTransientNatsError(err)) {
        // The provider, or NATS (a region coming back, a leader moving): again later.
        this.#o.logger?.log("warn", "cart handling failed; it is redelivered", {
          sessionId: event.sessionId,
          error: String(err),
        });
        m.nak(2000);
        return false;
      }
      // Anything else will not change on a redelivery; the reconciler and the review queue
      // take it from here.
      this.#o.logger?.log("error", "cart not recorded", {
        sessionId: event.sessionId,
        error: String(err),
      });
    } finally {
      clearInterval(working);
    }
    return true;
  }
}
