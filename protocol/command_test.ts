import assert from "node:assert/strict";
import { allMalformed, assertRefused, assertValid } from "./_family_test_util.ts";
import { commandReply, commandRequest, parseCommandRequest } from "./command.ts";
import requests from "./testdata/command_request.json" with { type: "json" };
import replies from "./testdata/command_reply.json" with { type: "json" };

Deno.test("parseCommandRequest accepts the fixtures and round-trips them", () => {
  assertValid(commandRequest, requests);
});

Deno.test("parseCommandRequest names the offending field of every malformed request", () => {
  const unlock = requests[0]!;
  const n = assertRefused(commandRequest, [
    ...allMalformed(requests, { discriminators: ["command"] }),
    {
      what: "unlock for 10 minutes",
      input: { ...unlock, args: { sessionId: null, durationMs: 600_000 } },
      field: "args.durationMs",
    },
    {
      what: "unlock with a snapshot argument",
      input: { ...unlock, args: { sessionId: null, durationMs: 15000, cameraId: "cam-1" } },
      field: "args.cameraId",
    },
    { what: "empty issuer", input: { ...unlock, issuer: "" }, field: "issuer" },
  ]);
  assert.ok(n >= 20, `only ${n} malformed requests`);
});

Deno.test("parseCommandRequest refuses an unknown command naming the command field", () => {
  const r = parseCommandRequest({ ...requests[0], command: "self_destruct" });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.field, "command");
});

Deno.test("parseCommandReply accepts the fixtures and round-trips them", () => {
  assertValid(commandReply, replies);
});

Deno.test("parseCommandReply names the offending field of every malformed reply", () => {
  const ok = replies[0]!;
  const n = assertRefused(commandReply, [
    ...allMalformed(replies, { discriminators: ["status"], opaque: ["result"] }),
    {
      what: "ok reply carrying an error",
      input: { ...ok, error: { code: "failed", message: "x" } },
      field: "error",
    },
    {
      what: "unknown error code",
      input: { ...replies[1], error: { code: "on_fire", message: "x" } },
      field: "error.code",
    },
  ]);
  assert.ok(n >= 20, `only ${n} malformed replies`);
});
