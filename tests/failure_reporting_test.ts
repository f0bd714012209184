/**
 * Failures that must not stop their caller are logged, not swallowed (real nats-server): a KV
 * replica that stops following its bucket, a NATS refusal whose audit entry cannot be written.
 */
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { KvReplica } from "../cloud/nats/mod.ts";
import { auditNatsRefusals } from "../cloud/provisioning/mod.ts";
import type { Logger, LogLevel } from "../runtime/mod.ts";
import { startTestNats } from "./harness.ts";

/** A logger that keeps what it is told. */
function memoryLogger() {
  const lines: Array<{ level: LogLevel; msg: string; fields: Record<string, unknown> }> = [];
  const logger: Logger = {
    log: (level, msg, fields = {}) => void lines.push({ level, msg, fields }),
  };
  return { lines, logger };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), what);
}

Deno.test("a KV replica that stops following its bucket (a listener threw) says so", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const kv = await new Kvm(nc).create("failure_reporting", { history: 1 });
  const { lines, logger } = memoryLogger();
  await using replica = await KvReplica.open(kv, {
    decode: (b) => new TextDecoder().decode(b),
    logger,
  });
  replica.onChange(() => {
    throw new Error("listener bug");
  });
  await kv.put("a", "1");
  await until("logged", () => lines.length > 0);
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.fields.bucket]), [[
    "error",
    "a KV replica stopped following its bucket",
    "failure_reporting",
  ]]);
  assert.match(String(lines[0]!.fields.error), /listener bug/);
});

Deno.test("a NATS refusal whose audit entry cannot be written is logged", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  await nc.close(); // the audit's connection is gone
  const { lines, logger } = memoryLogger();
  const listeners = new Set<(line: string) => void>();
  const stop = auditNatsRefusals(
    {
      onLog: (l) => (listeners.add(l), () => listeners.delete(l)),
    },
    nc,
    { region: "local", logger },
  );
  for (const l of listeners) {
    l('[1] 2026/11/27 13:22:17.842686 [ERR] 127.0.0.1:33664 - cid:42 - "v3.4.0:nats.js:m001-a" - authentication error');
  }
  await until("logged", () => lines.length > 0);
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.fields.action]), [[
    "warn",
    "a NATS refusal was not audited",
    "nats.authentication_refused",
  ]]);
  stop();
});
