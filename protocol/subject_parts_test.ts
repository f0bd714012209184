import assert from "node:assert/strict";
import { filters, subjects } from "./subjects.ts";
import { deviceSubjectParts, paymentSubjectParts, provisionSubjectParts } from "./subject_parts.ts";

const dev = { region: "eu-west", deviceId: "m001-a" };

Deno.test("deviceSubjectParts reads back what the device subject builders spelled", () => {
  assert.deepEqual(deviceSubjectParts(subjects.heartbeat(dev)), {
    region: "eu-west",
    deviceId: "m001-a",
    kind: "hb",
    detail: "",
  });
  assert.deepEqual(deviceSubjectParts(subjects.command(dev, "unlock")), {
    ...dev,
    kind: "cmd",
    detail: "unlock",
  });
  assert.deepEqual(deviceSubjectParts(subjects.objectCommit(dev)), {
    ...dev,
    kind: "obj",
    detail: "commit",
  });
  for (
    const s of [
      subjects.sessionStatus(dev),
      subjects.credentialsRenew(dev),
      subjects.pipelineEvent(dev, "session_completed"),
      subjects.frames(dev, "cam-1"),
    ]
  ) {
    const p = deviceSubjectParts(s);
    assert.deepEqual([p.region, p.deviceId], ["eu-west", "m001-a"], s);
  }
});

Deno.test("deviceSubjectParts returns a token as received, not as the builders would spell it", () => {
  assert.equal(deviceSubjectParts("vs.eu.dev.M001_A.sessions").deviceId, "M001_A");
});

Deno.test("deviceSubjectParts refuses a subject that is not a device's", () => {
  for (
    const s of [
      subjects.payment({ region: "eu", sessionId: "sess-00000001" }, "captured"),
      subjects.alert("eu", "offline"),
      "vs.eu.dev.m001-a",
      "nats.eu.dev.m001-a.hb",
    ]
  ) {
    assert.throws(() => deviceSubjectParts(s), RangeError, s);
  }
});

Deno.test("deviceSubjectParts refuses a filter, an empty token or a non-string", () => {
  assert.throws(() => deviceSubjectParts(filters.heartbeats({ region: "eu" })), /token 4 "\*"/);
  assert.throws(() => deviceSubjectParts("vs.eu.dev..hb"), /token 4 "" is empty/);
  assert.throws(() => deviceSubjectParts("vs.eu.dev.m1 a.hb"), RangeError);
  assert.throws(() => deviceSubjectParts(undefined as unknown as string), TypeError);
});

Deno.test("paymentSubjectParts reads back a payment subject", () => {
  const s = subjects.payment({ region: "us-east", sessionId: "sess-00000001" }, "receipt_issued");
  assert.deepEqual(paymentSubjectParts(s), {
    region: "us-east",
    sessionId: "sess-00000001",
    type: "receipt_issued",
  });
});

Deno.test("paymentSubjectParts refuses a device subject and a subject with an extra token", () => {
  assert.throws(() => paymentSubjectParts(subjects.heartbeat(dev)), /not vs\.<region>\.pay/);
  assert.throws(() => paymentSubjectParts("vs.eu.pay.sess-00000001.captured.x"), RangeError);
  assert.throws(() => paymentSubjectParts(42 as unknown as string), /a number, not a string/);
});

Deno.test("provisionSubjectParts reads back a nonce request and a claim", () => {
  assert.deepEqual(provisionSubjectParts(subjects.provisionNonce("b2026-11")), {
    batchId: "b2026-11",
    step: "nonce",
  });
  assert.deepEqual(provisionSubjectParts(subjects.provisionClaim("b2026-11")), {
    batchId: "b2026-11",
    step: "claim",
  });
});

Deno.test("provisionSubjectParts refuses an unknown step and a filter", () => {
  assert.throws(() => provisionSubjectParts("vs.provision.b2026-11.renew"), /nonce\|claim/);
  assert.throws(() => provisionSubjectParts(filters.provisionClaims()), /token 3 "\*"/);
  assert.throws(() => provisionSubjectParts("vs.eu.dev.m001-a.hb"), RangeError);
});
