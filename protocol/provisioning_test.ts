import assert from "node:assert/strict";
import { BatchSchema, parseClaimRequest } from "./provisioning.ts";
import { parseObjectCommit } from "./object_commit.ts";

Deno.test("BatchSchema refuses a batch that names a serial or a device twice", () => {
  const device = { serial: "SN0001", deviceId: "m001-a", machineId: "m001", role: "primary" };
  assert.ok(BatchSchema.safeParse({ batchId: "b1", region: "local", devices: [device] }).success);
  const twice = BatchSchema.safeParse({
    batchId: "b1",
    region: "local",
    devices: [device, { ...device, deviceId: "m001-b" }],
  });
  assert.ok(!twice.success);
  assert.deepEqual(twice.error.issues[0]!.path, ["devices", 1, "serial"]);
  const sameDevice = BatchSchema.safeParse({
    batchId: "b1",
    region: "local",
    devices: [device, { ...device, serial: "SN0002" }],
  });
  assert.ok(!sameDevice.success);
  assert.deepEqual(sameDevice.error.issues[0]!.path, ["devices", 1, "deviceId"]);
});

Deno.test("parseClaimRequest and parseObjectCommit name the field that is wrong", () => {
  const claim = parseClaimRequest(
    new TextEncoder().encode(JSON.stringify({
      v: 1,
      id: "0193a1b2-c3d4-7e5f-8a9b-000000000001",
      ts: 1,
      batchId: "b1",
      serial: "SN0001",
      publicKey: "not a key",
      nonce: "n".repeat(32),
      signature: "s".repeat(86),
    })),
  );
  assert.ok(!claim.ok && claim.error.field === "publicKey");
  const commit = parseObjectCommit(
    new TextEncoder().encode(JSON.stringify({
      v: 1,
      id: "0193a1b2-c3d4-7e5f-8a9b-000000000001",
      ts: 1,
      deviceId: "m001-a",
      bucket: "secrets",
      name: "m001-a/x",
      nuid: "m001-a.abcdefgh12",
      size: 1,
      chunks: 1,
      chunkBytes: 1,
      sha256: "0".repeat(64),
    })),
  );
  assert.ok(!commit.ok && commit.error.field === "bucket");
});
