/**
 * Door sessions: the door's state, the session an unlock announced, the region each unfinished
 * session belongs to, and the events of each session (door opened, door closed, what the hand
 * did, the session's outcome) stored in the outbox, to the region the session belongs to. A
 * primary turns its door's changes into sessions (and finishes those a crash interrupted, from
 * their journal); a secondary follows its primary's.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { CandidateCart, ItemEvent, SessionEvidence } from "../../pipeline/mod.ts";
import {
  type CandidateDecision,
  filters,
  newEnvelope,
  newMessageId,
  parsePipelineEvent,
  type PipelineEvent,
  pipelineEvent,
  SessionEvidenceSchema,
  type SessionEvidenceWire,
  subjects,
} from "../../protocol/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import { natsMessages, type Outbox } from "../delivery/mod.ts";
import type { DoorSensor, DoorState } from "../hardware/mod.ts";
import type { DeviceRecording } from "../recording/mod.ts";
import type { CartDecider } from "../sim/mod.ts";
import { DoorJournal } from "./_door_journal.ts";
import type { AgentLog } from "./_log_ring.ts";

/** A session's cart as decided (by a cart decider, or a fallback for review). */
interface Decision {
  cart: Array<{ sku: string; qty: number }>;
  confidence: number;
  reviewReasons: string[];
  modelVersion: string;
  events?: readonly ItemEvent[];
  lineConfidence?: Readonly<Record<string, number>>;
  evidence?: SessionEvidence;
  /** A candidate model's decision of the same session (shadow evaluation). */
  candidate?: CandidateCart;
}

/** Options of {@link DoorSessions}. */
export interface DoorSessionsOptions {
  /** The configuration in force (read as it changes: the model version). */
  readonly config: Pick<
    AgentConfig,
    "deviceId" | "machineId" | "modelVersion" | "recognition" | "primaryDeviceId"
  >;
  /** Where the events are stored; its database holds the sessions' journal. */
  readonly outbox: Pick<Outbox, "append" | "database">;
  /** The door sensor. */
  readonly door: DoorSensor;
  /** The region the device reports to now (where new sessions belong). */
  readonly servingRegion: () => string;
  /** The recording, if the device records. */
  readonly recording: () => Pick<DeviceRecording, "doorOpened" | "doorClosed"> | undefined;
  /** Decides each session's cart, if anything on this device can. */
  readonly decider: () => CartDecider | undefined;
  /** Log sink. */
  readonly log: AgentLog;
}

/** The device's door sessions. */
export class DoorSessions {
  readonly #options: DoorSessionsOptions;
  #door: DoorState | "unknown" = "unknown";
  #pendingSession: { sessionId: string; region: string } | undefined;
  /** The region each unfinished door session belongs to (its events go there). */
  readonly #sessionRegions = new Map<string, string>();

  /** No session yet, the door's state unknown. */
  constructor(options: DoorSessionsOptions) {
    this.#options = options;
  }

  /** The door's state as the sessions know it (a secondary's mirrors its primary's). */
  get door(): DoorState | "unknown" {
    return this.#door;
  }

  /**
   * The session the next opening of the door starts, and the region it belongs to (that of the
   * cloud that unlocked the door); undefined: the next opening starts a new one.
   */
  expect(session: { sessionId: string; region: string } | undefined): void {
    this.#pendingSession = session;
  }

  /**
   * Stores an event in the outbox (durably) for delivery: to the region its session belongs to
   * (it waits there while that region is down: the session is settled where it started, once).
   */
  #emit(event: PipelineEvent): void {
    const session = "sessionId" in event ? event.sessionId : undefined;
    const region = (session && this.#sessionRegions.get(session)) ?? this.#options.servingRegion();
    this.#options.outbox.append({
      id: event.id,
      subject: subjects.pipelineEvent(
        { region, deviceId: this.#options.config.deviceId },
        event.type,
      ),
      data: pipelineEvent.encode(event),
    });
  }

  /**
   * Sessions interrupted by a crash or power loss: finish them, never lose a sale. A session
   * whose door is still open stays open (returned) and ends when the door closes. Every
   * session event has an id derived from the session, so an event written again after a crash
   * is stored and delivered once (the outbox and the stream both drop a repeated id).
   */
  #recoverSessions(journal: DoorJournal): { sessionId: string; openedAt: number } | undefined {
    const unfinished = journal.unfinished();
    for (const row of unfinished) if (row.region) this.#sessionRegions.set(row.id, row.region);
    let stillOpen: { sessionId: string; openedAt: number } | undefined;
    for (const [i, row] of unfinished.entries()) {
      // Re-emitting door_opened is harmless (same id); it covers a crash right after the row was written.
      this.#emitSession("door_opened", row.id, row.opened_at);
      const last = i === unfinished.length - 1;
      if (row.closed_at === null && last && this.#options.door.state === "open") {
        stillOpen = { sessionId: row.id, openedAt: row.opened_at };
        this.#options.log("warn", "resumed a door session interrupted by a restart", {
          sessionId: row.id,
        });
        continue;
      }
      const closedAt = row.closed_at ?? Date.now();
      journal.closed(row.id, closedAt);
      this.#emitSession("door_closed", row.id, closedAt, {
        openMs: Math.max(0, closedAt - row.opened_at),
      });
      this.#complete(journal, { sessionId: row.id, openedAt: row.opened_at, closedAt }, {
        cart: [],
        confidence: 0,
        reviewReasons: ["the agent restarted during this session: decide the cart from the clips"],
        modelVersion: this.#options.config.modelVersion ?? "none",
      });
      this.#options.log("warn", "recovered an interrupted door session", { sessionId: row.id });
    }
    return stillOpen;
  }

  /** The message id of a session's event: derived, so that a repeat is dropped. */
  #eventId(sessionId: string, step: "open" | "shut" | "done" | `e${number}`): string {
    return `${sessionId.slice(0, 58)}-${step}`;
  }

  #emitSession(
    type: "door_opened" | "door_closed",
    sessionId: string,
    at: number,
    extra: { openMs?: number } = {},
  ): void {
    const base = {
      ...newEnvelope(at),
      deviceId: this.#options.config.deviceId,
      machineId: this.#options.config.machineId,
      sessionId,
    };
    if (type === "door_opened") this.#emit({ ...base, id: this.#eventId(sessionId, "open"), type });
    else {
      this.#emit({
        ...base,
        id: this.#eventId(sessionId, "shut"),
        type,
        openMs: extra.openMs ?? 0,
      });
    }
  }

  #complete(
    journal: DoorJournal,
    session: { sessionId: string; openedAt: number; closedAt: number },
    decision: Decision,
  ): void {
    const { config } = this.#options;
    // One threshold for every cart decider: the recognizer applies it too (the configured one).
    const threshold = config.recognition.threshold;
    const reasons = decision.confidence < threshold && decision.reviewReasons.length === 0
      ? [`confidence ${decision.confidence.toFixed(2)} below ${threshold.toFixed(2)}`]
      : decision.reviewReasons;
    // What the hand did while the door was open, before the session's outcome (at most 99).
    for (const [i, e] of (decision.events ?? []).slice(0, 99).entries()) {
      this.#emit({
        ...newEnvelope(e.at),
        id: this.#eventId(session.sessionId, `e${i}`),
        deviceId: config.deviceId,
        machineId: config.machineId,
        type: e.kind === "take" ? "item_taken" : "item_returned",
        sessionId: session.sessionId,
        sku: e.sku,
        cameraId: e.cameraId,
        confidence: Math.min(1, Math.max(0, e.confidence)),
        at: e.at,
      });
    }
    this.#emit({
      ...newEnvelope(),
      id: this.#eventId(session.sessionId, "done"),
      deviceId: config.deviceId,
      machineId: config.machineId,
      type: "session_completed",
      sessionId: session.sessionId,
      openedAt: session.openedAt,
      closedAt: session.closedAt,
      cart: decision.cart,
      confidence: decision.confidence,
      ...(decision.lineConfidence && decision.cart.length
        ? { lineConfidence: { ...decision.lineConfidence } }
        : {}),
      review: { required: reasons.length > 0, reasons },
      modelVersion: decision.modelVersion,
      ...(this.#evidence(session.sessionId, decision.evidence)),
      ...(decision.candidate
        ? { candidate: candidateDecision(decision.candidate, threshold) }
        : {}),
    });
    journal.completed(session.sessionId);
    this.#sessionRegions.delete(session.sessionId);
  }

  /** The evidence to send, if it is valid (a bad one is left out and said, never the session). */
  #evidence(
    sessionId: string,
    evidence: SessionEvidence | undefined,
  ): { evidence?: SessionEvidenceWire } {
    if (!evidence) return {};
    const r = SessionEvidenceSchema.safeParse(evidence);
    if (r.success) return { evidence: r.data };
    const issue = r.error.issues[0]!;
    this.#options.log("warn", "session evidence left out: it is not valid", {
      sessionId,
      field: issue.path.join("."),
      reason: issue.message,
    });
    return {};
  }

  /**
   * A primary's door sessions: finishes those a restart interrupted, then turns each opening
   * and closing of the door into a session, until `signal` aborts.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { door, log } = this.#options;
    const journal = new DoorJournal(this.#options.outbox.database);
    let open = this.#recoverSessions(journal);
    this.#door = door.state;
    for await (const state of door.changes(signal)) {
      this.#door = state;
      const now = Date.now();
      if (state === "open" && !open) {
        const pending = this.#pendingSession;
        open = { sessionId: pending?.sessionId ?? newMessageId(now), openedAt: now };
        this.#pendingSession = undefined;
        const region = pending?.region ?? this.#options.servingRegion();
        this.#sessionRegions.set(open.sessionId, region);
        journal.opened(open.sessionId, now, region);
        this.#emitSession("door_opened", open.sessionId, now);
        this.#options.recording()?.doorOpened(open.sessionId, now);
        this.#options.decider()?.open?.(open);
      } else if (state === "closed" && open) {
        const session = { ...open, closedAt: now };
        this.#options.recording()?.doorClosed(session.sessionId, now);
        open = undefined;
        // The event first: a crash after it is repaired by recovery (same id), never lost.
        this.#emitSession("door_closed", session.sessionId, now, {
          openMs: now - session.openedAt,
        });
        journal.closed(session.sessionId, now);
        const decision = await this.#closed(journal, session);
        // Cameras knocked off their calibration or under another light: followed, and said.
        const moved = this.#options.decider()?.cameraMotion?.() ?? {};
        log("info", "door session completed", {
          sessionId: session.sessionId,
          items: decision?.cart.length ?? 0,
          ...(Object.keys(moved).length ? { camerasMoved: moved } : {}),
        });
      }
    }
  }

  /** Decides a closed session's cart and completes it (for review if that fails). */
  async #closed(
    journal: DoorJournal,
    session: { sessionId: string; openedAt: number; closedAt: number },
  ): Promise<Decision | undefined> {
    const { config, log } = this.#options;
    const decider = this.#options.decider();
    let decision;
    try {
      decision = decider ? await decider.decide(session) : undefined;
    } catch (e) {
      log("error", "cart decision failed", {
        sessionId: session.sessionId,
        error: String(e),
      });
    }
    const fallback = (why: string) => ({
      cart: [],
      confidence: 0,
      reviewReasons: [why],
      modelVersion: config.modelVersion ?? "none",
    });
    try {
      this.#complete(
        journal,
        session,
        decision ??
          fallback(
            decider ? "the cart decision failed on the device" : "no cart decider on this device",
          ),
      );
    } catch (e) {
      // A decision that is not a valid event (a bug) still completes the session, for review.
      log("error", "cart decision not recordable", {
        sessionId: session.sessionId,
        error: String(e),
      });
      this.#complete(
        journal,
        session,
        fallback(`the cart decision could not be recorded: ${e}`.slice(0, 200)),
      );
    }
    return decision;
  }

  /** The secondary follows the primary's door sessions (its door state mirrors the primary's). */
  async followPrimary(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    // Any region: the primary's sessions may belong to another region while its own is down.
    const primary = { deviceId: this.#options.config.primaryDeviceId! };
    const events = natsMessages(nc, filters.pipelineEvents(primary), { signal, capacity: 64 });
    for await (const data of events) {
      const e = parsePipelineEvent(data);
      if (!e.ok) continue;
      if (e.value.type === "door_opened") {
        this.#door = "open";
        this.#options.recording()?.doorOpened(e.value.sessionId, e.value.ts);
      }
      if (e.value.type === "door_closed") {
        this.#door = "closed";
        this.#options.recording()?.doorClosed(e.value.sessionId, e.value.ts);
      }
    }
  }
}

/** The candidate's decision as sent: the same threshold as the live one's. */
function candidateDecision(c: CandidateCart, threshold: number): CandidateDecision {
  const d = c.decision;
  const reasons = d.confidence < threshold && d.reviewReasons.length === 0
    ? [`confidence ${d.confidence.toFixed(2)} below ${threshold.toFixed(2)}`]
    : d.reviewReasons;
  return {
    modelVersion: d.modelVersion,
    cart: d.cart,
    confidence: Math.min(1, Math.max(0, d.confidence)),
    review: { required: reasons.length > 0, reasons: reasons.slice(0, 20) },
    liveMs: c.liveMs,
    candidateMs: c.candidateMs,
  };
}
