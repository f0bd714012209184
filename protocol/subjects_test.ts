import assert from "node:assert/strict";
import { filters, shadowKey, subjects } from "./subjects.ts";
import { regionStreams } from "./streams.ts";

const dev = { region: "eu-west", deviceId: "m001-a" };

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length || (f[i] !== "*" && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

Deno.test("subjects builds the documented hierarchy", () => {
  assert.equal(subjects.heartbeat(dev), "vs.eu-west.dev.m001-a.hb");
  assert.equal(subjects.command(dev, "unlock"), "vs.eu-west.dev.m001-a.cmd.unlock");
  assert.equal(
    subjects.pipelineEvent(dev, "session_completed"),
    "vs.eu-west.dev.m001-a.evt.session_completed",
  );
  assert.equal(
    subjects.payment({ region: "eu-west", sessionId: "sess-00000001" }, "captured"),
    "vs.eu-west.pay.sess-00000001.captured",
  );
  assert.equal(filters.commands({ deviceId: "m001-a" }), "vs.*.dev.m001-a.cmd.*");
  assert.equal(shadowKey("m001-a", "reported"), "m001-a.reported");
});

Deno.test("subjects refuses tokens that would change the subject's shape", () => {
  for (const deviceId of ["m1.a", "*", ">", "", "M1", "a b", "a".repeat(64)]) {
    assert.throws(() => subjects.heartbeat({ region: "eu", deviceId }), TypeError, deviceId);
  }
  assert.throws(() => subjects.command(dev, "unlock.now"), /command "unlock.now"/);
  assert.throws(() => filters.heartbeats({ region: "eu.*" }), TypeError);
  assert.throws(() => shadowKey("m1", "both" as "desired"), TypeError);
});

Deno.test("filters select the request subjects of the cloud's services", () => {
  assert.equal(filters.objectCommits(), "vs.*.dev.*.obj.commit");
  assert.equal(filters.objectCommits({ region: "eu-west" }), "vs.eu-west.dev.*.obj.commit");
  assert.equal(filters.sessionStatusRequests({ region: "eu-west" }), "vs.eu-west.dev.*.sessions");
  assert.equal(filters.credentialsRenewals({ region: "local" }), "vs.local.dev.*.creds.renew");
  assert.equal(filters.provisionNonces(), "vs.provision.*.nonce");
  assert.equal(filters.provisionClaims("b2026-11"), "vs.provision.b2026-11.claim");
  for (
    const [filter, subject] of [
      [filters.objectCommits({ region: "eu-west" }), subjects.objectCommit(dev)],
      [filters.sessionStatusRequests({ region: "eu-west" }), subjects.sessionStatus(dev)],
      [filters.credentialsRenewals({ deviceId: "m001-a" }), subjects.credentialsRenew(dev)],
      [filters.provisionNonces(), subjects.provisionNonce("b2026-11")],
      [filters.provisionClaims(), subjects.provisionClaim("b2026-11")],
    ] as const
  ) assert.ok(matches(filter, subject), `${filter} matches ${subject}`);
});

Deno.test("filters refuse a region with a dot and a batch id with a wildcard", () => {
  assert.throws(() => filters.objectCommits({ region: "eu.west" }), /region "eu\.west"/);
  assert.throws(() => filters.sessionStatusRequests({ region: "EU" }), TypeError);
  assert.throws(() => filters.provisionNonces("b.>"), /batch id "b\.>"/);
});

Deno.test("every persisted subject falls in exactly one region stream", () => {
  const streams = regionStreams("eu-west");
  const persisted = [
    subjects.telemetry(dev),
    subjects.pipelineEvent(dev, "door_opened"),
    subjects.clipUploaded(dev),
    subjects.updateProgress(dev),
    subjects.deployment("eu-west", "dep-00000001"),
    subjects.payment({ region: "eu-west", sessionId: "sess-00000001" }, "receipt_issued"),
  ];
  for (const subject of persisted) {
    const owners = streams.filter((s) => s.subjects.some((f) => matches(f, subject)));
    assert.equal(owners.length, 1, `${subject} is captured by ${owners.map((s) => s.name)}`);
  }
  const beats = streams.filter((s) => s.subjects.some((f) => matches(f, subjects.heartbeat(dev))));
  assert.equal(beats.length, 0, "heartbeats stay on core NATS");
  const other = regionStreams("us-east").flatMap((s) => s.subjects);
  assert.ok(
    !persisted.some((subject) => other.some((f) => matches(f, subject))),
    "regions do not overlap",
  );
});
