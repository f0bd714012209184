/** DesiredShadow, the one writer of devices' desired shadows, on a real nats-server. */
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { DesiredShadow, isRevisionConflict } from "../cloud/fleet/mod.ts";
import { startTestNats } from "./harness.ts";

Deno.test("DesiredShadow raises the version with every change, keeps concurrent changes, and refuses a stale revision", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  try {
    const kv = await new Kvm(nc).create("shadow_test", { history: 5 });
    let now = 1_000;
    const desired = new DesiredShadow(kv, { now: () => now });
    assert.deepEqual(await desired.read("m1"), { revision: 0 });

    const first = await desired.change("m1", (c) => ({ ...c?.state, modelVersion: "1.0.0" }), {
      updatedBy: "operator a",
    });
    assert.equal(first?.before, undefined);
    assert.equal(first?.after.version, 1);
    assert.equal(first?.after.updatedBy, "operator a");
    assert.deepEqual((await desired.read("m1")).desired?.state, { modelVersion: "1.0.0" });

    // Nothing to change: nothing written.
    assert.equal(await desired.change("m1", () => undefined, { updatedBy: "x" }), undefined);
    assert.equal((await desired.read("m1")).revision, first!.revision);

    // Eight writers at once, each adding its own setting: none is lost.
    now = 2_000;
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        new DesiredShadow(kv).change("m1", (c) => ({
          ...c?.state,
          config: { ...c?.state.config, [`k${i}`]: i },
        }), { updatedBy: `writer ${i}` })),
    );
    const after = (await desired.read("m1")).desired!;
    assert.equal(after.version, 9);
    assert.equal(after.state.modelVersion, "1.0.0");
    assert.deepEqual(Object.keys(after.state.config ?? {}).sort(), [
      "k0",
      "k1",
      "k2",
      "k3",
      "k4",
      "k5",
      "k6",
      "k7",
    ]);

    // Over a given revision: refused once it moved on, and nothing written.
    await assert.rejects(
      desired.change("m1", (c) => ({ ...c?.state, modelVersion: "0.9.0" }), {
        updatedBy: "operator b",
        revision: first!.revision,
      }),
      (e) => isRevisionConflict(e),
    );
    assert.equal((await desired.read("m1")).desired?.state.modelVersion, "1.0.0");
    await assert.rejects(
      desired.change("m1", () => ({}), { updatedBy: "x", attempts: 0 }),
      RangeError,
    );
  } finally {
    await nc.close();
  }
});
