import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  type CommandRequest,
  commandRequest,
  generateSigningKey,
  newEnvelope,
  parseCommandReply,
  signCommand,
} from "../../protocol/mod.ts";
import { CommandFailure, CommandProcessor, type CommandRefusal } from "./command_processor.ts";

function request(overrides: Partial<CommandRequest> = {}): Uint8Array {
  return commandRequest.encode({
    ...newEnvelope(),
    deviceId: "m001-a",
    issuer: "op-1",
    expiresAt: Date.now() + 5000,
    command: "lock",
    args: {},
    ...overrides,
  } as CommandRequest);
}

Deno.test("CommandProcessor runs a replayed command once, even after a restart", async () => {
  const dir = await Deno.makeTempDir();
  let runs = 0;
  const handlers = { lock: () => Promise.resolve({ locked: true, run: ++runs }) };
  const req = request();
  const first = await new CommandProcessor(new DatabaseSync(`${dir}/c.db`), "m001-a", handlers)
    .handle(req);
  const restarted = new CommandProcessor(new DatabaseSync(`${dir}/c.db`), "m001-a", handlers);
  const second = await restarted.handle(req);
  assert.deepEqual(second, first);
  assert.equal(runs, 1);
  const both = await Promise.all([
    restarted.handle(request({ id: "cmd-00000002" })),
    restarted.handle(request({ id: "cmd-00000002" })),
  ]);
  assert.deepEqual(both[0], both[1]);
  assert.equal(runs, 2, "two simultaneous deliveries run once");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("CommandProcessor refuses expired, foreign, malformed and failing commands with clear replies", async () => {
  const p = new CommandProcessor(new DatabaseSync(":memory:"), "m001-a", {
    lock: () => Promise.reject(new CommandFailure("busy", "the door is open")),
  });
  const reply = async (data: Uint8Array) => {
    const r = parseCommandReply(await p.handle(data));
    assert.ok(r.ok);
    return r.value;
  };
  const expired = await reply(request({ expiresAt: Date.now() - 1000 }));
  assert.ok(expired.status === "error" && expired.error.code === "expired");
  const foreign = await reply(request({ deviceId: "m002-a" }));
  assert.ok(foreign.status === "error" && /is for device m002-a/.test(foreign.error.message));
  const busy = await reply(request());
  assert.ok(
    busy.status === "error" && busy.error.code === "busy" &&
      busy.error.message === "the door is open",
  );
  const notJson = await reply(new TextEncoder().encode("{"));
  assert.ok(
    notJson.status === "error" && notJson.error.code === "invalid" &&
      notJson.commandId === "00000000",
  );
  const unsupported = await reply(
    request({ command: "diagnostics", args: {} } as Partial<CommandRequest>),
  );
  assert.ok(unsupported.status === "error" && unsupported.error.code === "unknown_command");
});

Deno.test("CommandProcessor does not run again a command a crash interrupted", async () => {
  const db = new DatabaseSync(":memory:");
  db.exec(
    "CREATE TABLE IF NOT EXISTS command_started (id TEXT PRIMARY KEY, created INTEGER NOT NULL)",
  );
  db.prepare("INSERT INTO command_started (id, created) VALUES (?, ?)").run(
    "cmd-interrupted",
    Date.now(),
  );
  let runs = 0;
  const p = new CommandProcessor(db, "m001-a", { lock: () => Promise.resolve({ run: ++runs }) });
  const r = parseCommandReply(await p.handle(request({ id: "cmd-interrupted" })));
  assert.ok(
    r.ok && r.value.status === "error" && /interrupted by a restart/.test(r.value.error.message),
  );
  assert.equal(runs, 0);
});

Deno.test("CommandProcessor with pinned keys runs only commands the cloud signed, and reports refusals and replays", async () => {
  const key = await generateSigningKey();
  const other = await generateSigningKey();
  let unlocks = 0;
  const refusals: CommandRefusal[] = [];
  const p = new CommandProcessor(new DatabaseSync(":memory:"), "m001-a", {
    unlock: () => Promise.resolve({ unlocked: ++unlocks }),
  }, { trustedKeys: [key.trusted], onRefused: (r) => void refusals.push(r) });
  const body = (): CommandRequest => ({
    ...newEnvelope(),
    deviceId: "m001-a",
    issuer: "cloud/payments",
    expiresAt: Date.now() + 5000,
    command: "unlock",
    args: { sessionId: null, durationMs: 5000 },
  });
  const reply = async (data: Uint8Array) => {
    const r = parseCommandReply(await p.handle(data));
    assert.ok(r.ok);
    return r.value;
  };
  const signed = await signCommand(body(), key);
  assert.equal((await reply(signed)).status, "ok");
  assert.deepEqual(await reply(signed), await reply(signed), "a replay gets the first answer");
  assert.equal(unlocks, 1);
  const unsigned = await reply(commandRequest.encode(body()));
  assert.ok(unsigned.status === "error" && unsigned.error.code === "unauthorized");
  const foreignKey = await reply(await signCommand(body(), other));
  assert.ok(foreignKey.status === "error" && /unknown key/.test(foreignKey.error.message));
  // A signature over other bytes: the command was changed after signing.
  const wrapper = JSON.parse(new TextDecoder().decode(signed));
  const changed = JSON.parse(wrapper.command);
  changed.args.durationMs = 60_000;
  const tampered = await reply(
    new TextEncoder().encode(JSON.stringify({ ...wrapper, command: JSON.stringify(changed) })),
  );
  assert.ok(tampered.status === "error" && /does not match/.test(tampered.error.message));
  // Signed, but valid longer than the device remembers ids: a replay could not be recognized.
  const tooLong = await reply(
    await signCommand({ ...body(), expiresAt: Date.now() + 2 * 86_400_000 }, key),
  );
  assert.ok(tooLong.status === "error" && /more than the 86400 s/.test(tooLong.error.message));
  assert.equal(unlocks, 1, "nothing but the first signed unlock acted");
  assert.deepEqual(
    refusals.map((r) => r.code),
    ["replayed", "replayed", "unauthorized", "unauthorized", "unauthorized"],
  );
  assert.ok(refusals.every((r) => r.command === "unlock"));
});
