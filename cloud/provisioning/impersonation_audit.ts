/**
 * Reports that name another device than the one that sent them. A device's identity is the
 * subject it publishes on (its credentials let it publish only under its own id); the device id
 * in a report's body is only a claim. A reader that finds the two differ drops the report and
 * hands it here: it is counted, logged and audited (`device.report_refused`), at most once per
 * sender, kind and claimed device every `everyMs`, so a flood of forgeries is not a flood of audit
 * entries.
 *
 * @example
 * ```ts
 * import { ImpersonationAudit } from "./impersonation_audit.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * const audit = new ImpersonationAudit(nc, { region: "local" });
 * audit.refuse({ sender: "m001-a", claimed: "m002-a", kind: "heartbeat" });
 * console.log(audit.refused); // 1
 * ```
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AuditEntry, auditEntry, newEnvelope, subjects } from "../../protocol/mod.ts";
import { type Logger, RateLimiter } from "../../runtime/mod.ts";

/** A report refused because its body names another device than its subject. */
export interface ImpersonatedReport {
  /** The device that sent it (from the subject). */
  readonly sender: string;
  /** The device its body names. */
  readonly claimed: string;
  /** What it was: `heartbeat`, `telemetry`, `update_progress`… */
  readonly kind: string;
}

/** Options of {@link ImpersonationAudit}. */
export interface ImpersonationAuditOptions {
  /** Region whose AUDIT stream records the refusals. */
  readonly region: string;
  /** At most one audit entry per sender, kind and claimed device this often, ms. Default 60,000. */
  readonly everyMs?: number;
  /** Clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Where refusals (and audit entries that could not be written) are logged. */
  readonly logger?: Logger | undefined;
}

/** Senders remembered for the throttle; the oldest is forgotten beyond this. */
const REMEMBERED = 10_000;

/** Counts, logs and audits impersonated reports. */
export class ImpersonationAudit {
  /** Reports refused since start. */
  refused = 0;
  /** Audit entries written since start. */
  audited = 0;
  readonly #nc: NatsConnection;
  readonly #o: ImpersonationAuditOptions;
  readonly #throttle: RateLimiter;

  /** An audit of `region`'s reports, written through `nc`. */
  constructor(nc: NatsConnection, options: ImpersonationAuditOptions) {
    this.#nc = nc;
    this.#o = options;
    this.#throttle = new RateLimiter({
      burst: 1,
      everyMs: options.everyMs ?? 60_000,
      maxKeys: REMEMBERED,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** Records one refused report; the audit entry is written in the background. */
  refuse(report: ImpersonatedReport): void {
    this.refused++;
    const key = `${report.sender}\u0000${report.kind}\u0000${report.claimed}`;
    if (this.#throttle.take(key) > 0) return;
    const reason = `${report.kind} from ${report.sender} names ${report.claimed}`;
    this.#o.logger?.log("warn", "report refused: it names another device", {
      sender: report.sender,
      claimed: report.claimed,
      kind: report.kind,
    });
    const entry: AuditEntry = {
      ...newEnvelope(),
      actor: { subject: `device:${report.sender}`, role: "device" },
      action: "device.report_refused",
      target: `device/${report.claimed}`,
      outcome: "refused",
      requestId: `${report.kind}:${report.sender}`,
      before: null,
      after: null,
      reason: reason.slice(0, 200),
    };
    jetstream(this.#nc).publish(
      subjects.audit(this.#o.region, entry.action),
      auditEntry.encode(entry),
    ).then(() => {
      this.audited++;
    }, (err) =>
      // The report is refused all the same (and logged above); the audit entry is lost.
      this.#o.logger?.log("warn", "report refusal not audited", {
        sender: report.sender,
        error: String(err),
      }));
  }
}
