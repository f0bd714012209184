import assert from "node:assert/strict";
import { type CommandRequest, parseCommandRequest } from "./command.ts";
import { signCommand, unverifiedCommandId, verifySignedCommand } from "./signed_command.ts";
import { generateSigningKey, SignatureError } from "./signed_manifest.ts";

const request: CommandRequest = {
  v: 1,
  id: "0193a1b2-c3d4-7e5f-8a9b-000000000001",
  ts: 1_795_000_000_000,
  deviceId: "m001-a",
  issuer: "cloud/payments",
  expiresAt: 1_795_000_030_000,
  command: "unlock",
  args: { sessionId: null, durationMs: 5000 },
};

Deno.test("signCommand and verifySignedCommand: the device reads back exactly what the cloud signed", async () => {
  const key = await generateSigningKey();
  const signed = await signCommand(request, key);
  const bytes = await verifySignedCommand(signed, [key.trusted]);
  const parsed = parseCommandRequest(bytes);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value, request);
  assert.deepEqual(unverifiedCommandId(signed), { id: request.id, command: "unlock" });
});

Deno.test("verifySignedCommand refuses unsigned, unknown-key, tampered and malformed commands, naming why", async () => {
  const key = await generateSigningKey();
  const other = await generateSigningKey();
  const signed = await signCommand(request, key);
  const refused = async (input: Uint8Array, why: RegExp) => {
    await assert.rejects(
      () => verifySignedCommand(input, [key.trusted]),
      (e: Error) => e instanceof SignatureError && why.test(e.message),
    );
  };
  await refused(new TextEncoder().encode(JSON.stringify(request)), /unsigned or malformed/);
  await refused(await signCommand(request, other), /unknown key/);
  const wrapper = JSON.parse(new TextDecoder().decode(signed));
  await refused(
    new TextEncoder().encode(
      JSON.stringify({ ...wrapper, command: wrapper.command.replace("5000", "60000") }),
    ),
    /does not match/,
  );
  await refused(new TextEncoder().encode("not json"), /unsigned or malformed/);
  // Pinned keys only: with none, nothing is accepted.
  await assert.rejects(() => verifySignedCommand(signed, []), /unknown key/);
  await assert.rejects(() => signCommand({ ...request, deviceId: "BAD ID" }, key), /deviceId/);
});
