/**
 * Audits what nats-server refused: a client that could not authenticate (no, forged, expired or
 * revoked credentials) and a publish or subscription outside a user's permissions (a device
 * reaching for another device's subjects). nats-server 2.9 reports these only in its log, so
 * this reads the log lines of a server the process runs (or a log shipped to it) and writes one
 * audit entry per refusal to the region's AUDIT stream (`vs.<region>.audit.nats_refused`).
 *
 * @example
 * ```ts
 * import { auditNatsRefusals } from "./nats_refusal_audit.ts";
 * declare const server: import("./nats_refusal_audit.ts").NatsLogSource; // a LocalNats, say
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 * const stop = auditNatsRefusals(server, nc, { region: "local" });
 * ```
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type AuditEntry, auditEntry, newEnvelope, subjects } from "../../protocol/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** A refusal read from a server log line. */
export interface NatsRefusal {
  /** `publish`, `subscribe` or `authentication`. */
  readonly kind: "publish" | "subscribe" | "authentication";
  /** The client's connection name (a device connects under its device id). */
  readonly client: string;
  /** The user's public nkey, when the server names it. */
  readonly nkey: string | null;
  /** The subject refused (publish and subscribe). */
  readonly subject: string | null;
  /** The client's address. */
  readonly address: string;
}

const LINE =
  /\[ERR\] (\S+) - \w+:\d+ - "([^"]*)" - (Publish Violation|Subscription Violation|authentication error)(?: - Nkey "([A-Z0-9]+)", Subject "([^"]+)")?/;

/** Reads a refusal from one nats-server log line, or `undefined` when the line is not one. */
export function parseNatsRefusal(line: string): NatsRefusal | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const name = m[2] ?? "";
  // nats.js names itself "<version>:nats.js:<connection name>".
  const client = /:nats\.js:(.+)$/.exec(name)?.[1] ?? name;
  return {
    kind: m[3] === "Publish Violation"
      ? "publish"
      : m[3] === "Subscription Violation"
      ? "subscribe"
      : "authentication",
    client,
    nkey: m[4] ?? null,
    subject: m[5] ?? null,
    address: m[1] ?? "",
  };
}

/** A source of server log lines (a {@link LocalNats}). */
export interface NatsLogSource {
  /** Calls `listener` with each log line; returns an unsubscribe. */
  onLog(listener: (line: string) => void): () => void;
}

/** Options of {@link auditNatsRefusals}. */
export interface NatsRefusalAuditOptions {
  /** Region whose AUDIT stream records the refusals. */
  readonly region: string;
  /** Told of each refusal written (tests, metrics). */
  readonly onRefusal?: (refusal: NatsRefusal) => void;
  /** Where a refusal that could not be written is logged. */
  readonly logger?: Logger;
}

/** Writes an audit entry for each refusal the server logs; returns a function that stops it. */
export function auditNatsRefusals(
  server: NatsLogSource,
  nc: NatsConnection,
  options: NatsRefusalAuditOptions,
): () => void {
  const js = jetstream(nc);
  return server.onLog((line) => {
    const refusal = parseNatsRefusal(line);
    if (!refusal) return;
    const entry: AuditEntry = {
      ...newEnvelope(),
      actor: { subject: (refusal.client || "unknown").slice(0, 200), role: "anonymous" },
      action: `nats.${refusal.kind}_refused`,
      target: (refusal.subject ?? refusal.address).slice(0, 200),
      outcome: "refused",
      requestId: refusal.nkey ?? refusal.address,
      before: null,
      after: null,
      reason: `nats-server refused ${
        refusal.kind === "authentication"
          ? "the connection: bad, expired or revoked credentials"
          : `a ${refusal.kind} to "${refusal.subject}" outside the user's permissions`
      }${refusal.nkey ? ` (user ${refusal.nkey})` : ""}`.slice(0, 200),
    };
    js.publish(
      subjects.audit(options.region, entry.action),
      auditEntry.encode(entry),
    ).then(
      () => options.onRefusal?.(refusal),
      (e) =>
        // The server refused all the same; only its audit entry is lost: said.
        options.logger?.log("warn", "a NATS refusal was not audited", {
          action: entry.action,
          error: String(e),
        }),
    );
  });
}
