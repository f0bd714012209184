import assert from "node:assert/strict";
import {
  claimPermissions,
  CLOUD_TO_DEVICES,
  devicePermissions,
  DEVICES_TO_CLOUD,
} from "./device_permissions.ts";

/** Subjects a NATS wildcard pattern matches, for the tokens that matter here. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (s[i] === undefined || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

Deno.test("devicePermissions allow a device its own subjects and its cabinet peer's frames, never another device's", () => {
  const p = devicePermissions({ region: "eu-west", deviceId: "m001-a", peers: ["m001-b"] });
  const pub = (s: string) =>
    p.pub.allow.some((a) => matches(a, s)) && !p.pub.deny.some((d) => matches(d, s));
  const sub = (s: string) => p.sub.allow.some((a) => matches(a, s));
  // Its own.
  for (
    const s of [
      "vs.eu-west.dev.m001-a.hb",
      "vs.eu-west.dev.m001-a.evt.door_opened",
      "vs.eu-west.dev.m001-a.clip",
      "$KV.shadow_eu-west.m001-a.reported",
      "$JS.API.DIRECT.GET.KV_shadow_eu-west.$KV.shadow_eu-west.m001-a.desired",
      "$O.clips_eu-west.C.m001-a.abc123def456",
      "$JS.API.DIRECT.GET.OBJ_artifacts_mirror_eu-west.$O.artifacts.C.abc",
      "$JS.API.DIRECT.GET.OBJ_artifacts_mirror_eu-west",
      // The same chunks from the stream's leader, when a replica is behind.
      "$JS.API.STREAM.MSG.GET.OBJ_artifacts_mirror_eu-west",
      "$JS.API.STREAM.MSG.GET.OBJ_artifacts",
      // What it reports, to another region's servers while its own region is down.
      "vs.us-east.dev.m001-a.hb",
      "vs.us-east.dev.m001-a.evt.door_closed",
      "vs.eu-west.dev.m001-b.clock",
      "vs.eu-west.dev.m001-a.sessions",
      "_R_.abcdef",
      "_INBOX_dev.m001-b.xyz",
    ]
  ) assert.ok(pub(s), `may publish ${s}`);
  // No response permission: a received message's reply subject is chosen by its sender.
  assert.equal(p.resp, undefined);
  assert.ok(sub("vs.eu-west.dev.m001-a.cmd.unlock"));
  assert.ok(sub("vs.us-east.dev.m001-a.cmd.unlock"), "its commands from a failover region");
  assert.ok(sub("vs.eu-west.dev.m001-b.frames.cam-3"));
  assert.ok(sub("_INBOX_dev.m001-a.xyz"));
  // Another device's.
  for (
    const s of [
      "vs.eu-west.dev.m002-a.hb",
      "vs.eu-west.dev.m001-b.hb",
      "vs.eu-west.dev.m001-a.cmd.unlock",
      "vs.us-east.dev.m001-a.cmd.unlock",
      "vs.us-east.dev.m002-a.hb",
      "$KV.shadow_eu-west.m002-a.reported",
      "$KV.shadow_eu-west.m001-a.desired",
      "$KV.shadow_us-east.m001-a.reported",
      "$JS.API.DIRECT.GET.KV_shadow_eu-west.$KV.shadow_eu-west.m002-a.desired",
      "$O.clips_eu-west.C.m002-a.abc123def456",
      "$O.clips_eu-west.M.bTAwMi1hL3MtMS9jYW0tMS0wLm1wNA==",
      "$JS.API.STREAM.MSG.GET.KV_shadow_eu-west",
      "$JS.API.STREAM.CREATE.KV_shadow_eu-west",
      "$JS.API.DIRECT.GET.OBJ_artifacts_mirror_us-east",
      "$JS.API.STREAM.MSG.GET.OBJ_artifacts_mirror_us-east",
      "$JS.API.STREAM.MSG.GET.OBJ_clips_eu-west",
      "vs.eu-west.audit.command_unlock",
      "$JS.API.DIRECT.GET.PAYMENTS_EU-WEST.vs.eu-west.pay.*.unlock_sent",
      "$JS.API.DIRECT.GET.KV_service.$KV.service.commands.signing_key",
      "_INBOX_dev.m002-a.xyz",
      "_INBOX.xyz",
    ]
  ) assert.ok(!pub(s), `may not publish ${s}`);
  for (
    const s of [
      "vs.eu-west.dev.m002-a.cmd.unlock",
      "vs.eu-west.dev.*.cmd.*",
      "_INBOX_dev.m002-a.xyz",
      "_INBOX.xyz",
      "vs.eu-west.dev.m002-a.frames.cam-1",
    ]
  ) assert.ok(!sub(s), `may not subscribe to ${s}`);
  assert.throws(
    () => devicePermissions({ region: "eu-west", deviceId: "m001-a.>", peers: [] }),
    /device id "m001-a.>" is invalid/,
  );
  assert.throws(
    () => devicePermissions({ region: "eu-west", deviceId: "m001-a", peers: ["*"] }),
    /peer device id "\*" is invalid/,
  );
});

Deno.test("claimPermissions allow a batch's claim credential only its provisioning requests", () => {
  const p = claimPermissions("b2026-11");
  assert.deepEqual(p.pub.allow, ["vs.provision.b2026-11.nonce", "vs.provision.b2026-11.claim"]);
  assert.deepEqual(p.sub.allow, ["_INBOX_claim.b2026-11.>"]);
  assert.throws(() => claimPermissions("b.>"), /batch id "b.>" is invalid/);
});

Deno.test("the devices account reaches the cloud's data only through the JetStream API, which each device's permissions narrow", () => {
  const reaches = (subject: string) => CLOUD_TO_DEVICES.some((x) => matches(x.subject, subject));
  for (
    const s of ["$KV.shadow.m001-a.desired", "$KV.service.commands.signing_key", "$O.clips.M.abc"]
  ) {
    assert.ok(!reaches(s), `devices reach ${s}`);
  }
  const p = devicePermissions({ region: "local", deviceId: "m001-a", peers: [] });
  const pub = (s: string) => p.pub.allow.some((a) => matches(a, s));
  for (
    const s of [
      "$JS.API.DIRECT.GET.KV_service.$KV.service.commands.signing_key",
      "$JS.API.STREAM.MSG.GET.PAYMENTS_LOCAL",
      "$JS.API.DIRECT.GET.PAYMENTS_LOCAL.vs.local.pay.*.*",
      "$JS.API.STREAM.DELETE.KV_shadow",
      "$JS.API.STREAM.PURGE.OBJ_clips",
      "$JS.API.CONSUMER.CREATE.PAYMENTS_LOCAL.x.vs.local.pay.*.*",
      "$JS.API.INFO",
    ]
  ) assert.ok(reaches(s) && !pub(s), `${s}: imported, and refused by the device's permissions`);
});

Deno.test("the accounts share no subject both ways (a message would loop)", () => {
  for (const a of CLOUD_TO_DEVICES) {
    for (const b of DEVICES_TO_CLOUD) {
      assert.ok(
        !matches(a.subject, b.subject) && !matches(b.subject, a.subject),
        `${a.subject} / ${b.subject}`,
      );
    }
  }
});
