import assert from "node:assert/strict";
import { ClipSpool, type SpoolAlert, SpoolClosedError, SpoolFullError } from "./clip_spool.ts";
import type { ClipInfo } from "../../pipeline/mod.ts";

const MiB = 1 << 20;

function info(sessionId: string, cameraId = "cam-1"): ClipInfo {
  return {
    sessionId,
    cameraId,
    deviceId: "m001-a",
    part: 0,
    width: 64,
    height: 48,
    fps: 15,
    startTs: 1000,
    backend: "wasm",
  };
}

async function store(spool: ClipSpool, sessionId: string, bytes: number): Promise<void> {
  const w = await spool.create(info(sessionId));
  await w.write(new Uint8Array(bytes).fill(sessionId.length));
  await w.finish({ status: "complete", frames: 10, startTs: 1000, endTs: 1600 });
}

Deno.test("ClipSpool evicts the oldest settled clips first and never an unsettled one", async () => {
  const dir = await Deno.makeTempDir();
  let t = 0;
  using spool = ClipSpool.open({ dir, quotaBytes: 2 * MiB, now: () => ++t });
  await store(spool, "a", 600_000);
  await store(spool, "b", 600_000);
  await store(spool, "c", 600_000);
  spool.markSettled("b");
  spool.markSettled("c");
  // "a" is the oldest but unsettled: "b" goes, then "c" is kept because room is enough.
  await store(spool, "d", 600_000);
  assert.deepEqual(spool.list().map((c) => c.sessionId), ["a", "c", "d"]);
  assert.ok(spool.usage() <= 2 * MiB);
  await assert.rejects(() => Deno.stat(`${dir}/b.cam-1.0.mp4`), Deno.errors.NotFound);
  const a = spool.list()[0]!;
  assert.equal(a.status, "complete");
  assert.equal(a.bytes, 600_000);
  const expected = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(a.path))),
  ).map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(a.sha256, expected);
  assert.deepEqual(spool.unsettledSessions().sort(), ["a", "d"]);
});

Deno.test("ClipSpool refuses a clip when its quota holds only unsettled clips, and alerts", async () => {
  const dir = await Deno.makeTempDir();
  const alerts: SpoolAlert[] = [];
  using spool = ClipSpool.open({ dir, quotaBytes: MiB, onAlert: (a) => alerts.push(a) });
  await store(spool, "a", 700_000);
  const w = await spool.create(info("b", "cam-2"));
  await w.write(new Uint8Array(200_000));
  await assert.rejects(() => w.write(new Uint8Array(200_000)), SpoolFullError);
  await w.discard("full");
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.sessionId, "b");
  assert.match(alerts[0]!.reason, /unsettled/);
  assert.deepEqual(spool.list().map((c) => c.sessionId), ["a"]);
  // Once "a" is settled it makes room.
  spool.markSettled("a");
  await store(spool, "c", 700_000);
  assert.deepEqual(spool.list().map((c) => c.sessionId), ["c"]);
});

Deno.test("ClipSpool keeps a clip a crash left half-written, as broken", async () => {
  const dir = await Deno.makeTempDir();
  const mp4 = await Deno.readFile(new URL("./testdata/ten_frames_fmp4.mp4", import.meta.url));
  {
    using spool = ClipSpool.open({ dir, quotaBytes: MiB });
    const w = await spool.create(info("s-1"));
    await w.write(mp4);
    // The process dies here: no finish().
    const empty = await spool.create(info("s-2"));
    await empty.write(mp4.subarray(0, 20));
  }
  using spool = ClipSpool.open({ dir, quotaBytes: MiB });
  const clips = spool.list();
  assert.deepEqual(clips.map((c) => [c.sessionId, c.status, c.frames]), [["s-1", "broken", 10]]);
  assert.equal(clips[0]!.bytes, mp4.length);
  assert.equal((await Deno.readFile(clips[0]!.path)).length, mp4.length);
  assert.match(clips[0]!.reason!, /stopped while recording/);
  assert.deepEqual(spool.pending().map((c) => c.id), ["s-1.cam-1.0"]);
  spool.markUploaded("s-1.cam-1.0");
  assert.deepEqual(spool.pending(), []);
});

Deno.test("ClipSpool closed while a clip is written refuses to finish it, and the next start keeps it as broken", async () => {
  const dir = await Deno.makeTempDir();
  const mp4 = await Deno.readFile(new URL("./testdata/ten_frames_fmp4.mp4", import.meta.url));
  {
    const spool = ClipSpool.open({ dir, quotaBytes: MiB });
    const w = await spool.create(info("s-1"));
    await w.write(mp4);
    // A stop that gave up waiting for the encoder closes the spool under the writer.
    spool[Symbol.dispose]();
    await assert.rejects(
      () => w.finish({ status: "complete", frames: 10, startTs: 1000, endTs: 1600 }),
      SpoolClosedError,
    );
    await assert.rejects(() => w.write(mp4), /the clip spool is closed/);
    await assert.rejects(() => spool.create(info("s-2")), SpoolClosedError);
  }
  using spool = ClipSpool.open({ dir, quotaBytes: MiB });
  assert.deepEqual(spool.list().map((c) => [c.sessionId, c.status, c.frames]), [[
    "s-1",
    "broken",
    10,
  ]]);
});

Deno.test("ClipSpool refuses a quota under 1 MiB", () => {
  assert.throws(() => ClipSpool.open({ dir: "/nonexistent", quotaBytes: 10 }), RangeError);
});

Deno.test("ClipSpool logs a discarded clip whose file it cannot remove, and drops it", async () => {
  const dir = await Deno.makeTempDir();
  const lines: Array<{ level: string; msg: string; error: unknown }> = [];
  using spool = ClipSpool.open({
    dir,
    quotaBytes: MiB,
    log: (level, msg, f) => void lines.push({ level, msg, error: f?.error }),
  });
  const w = await spool.create(info("s-1"));
  await w.write(new Uint8Array(100));
  // Something else took the file's place: a folder that is not empty cannot be removed.
  const part = `${dir}/s-1.cam-1.0.mp4.part`;
  await Deno.remove(part);
  await Deno.mkdir(`${part}/x`, { recursive: true });
  await w.discard("no frames");
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0]!.level, "warn");
  assert.equal(lines[0]!.msg, "cannot remove a discarded clip");
  assert.match(String(lines[0]!.error), /not empty/i);
  assert.deepEqual(spool.list(), []);
});

Deno.test("ClipSpool recovery logs a half-written clip it cannot read, and drops it", async () => {
  const dir = await Deno.makeTempDir();
  {
    const spool = ClipSpool.open({ dir, quotaBytes: MiB });
    const w = await spool.create(info("s-1"));
    await w.write(new Uint8Array(100));
    spool[Symbol.dispose]();
    // Closes the file; the closed spool keeps the row, as a crash would.
    await assert.rejects(() => w.discard("stopping"), SpoolClosedError);
  }
  const part = `${dir}/s-1.cam-1.0.mp4.part`;
  await Deno.remove(part);
  await Deno.mkdir(part); // unreadable as a file (and not "not found")
  const lines: Array<{ level: string; msg: string; error: unknown }> = [];
  using spool = ClipSpool.open({
    dir,
    quotaBytes: MiB,
    log: (level, msg, f) => void lines.push({ level, msg, error: f?.error }),
  });
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [[
    "warn",
    "cannot recover a clip; it is dropped",
  ]]);
  assert.match(String(lines[0]!.error), /directory/i);
  assert.deepEqual(spool.list(), []);
});

Deno.test("ClipSpool recovery drops a clip whose file was never made, silently", async () => {
  const dir = await Deno.makeTempDir();
  {
    const spool = ClipSpool.open({ dir, quotaBytes: MiB });
    const w = await spool.create(info("s-1"));
    spool[Symbol.dispose]();
    await assert.rejects(() => w.discard("stopping"), SpoolClosedError);
  }
  await Deno.remove(`${dir}/s-1.cam-1.0.mp4.part`); // the crash came before the file
  const lines: string[] = [];
  using spool = ClipSpool.open({ dir, quotaBytes: MiB, log: (_l, msg) => void lines.push(msg) });
  assert.deepEqual(spool.list(), []);
  assert.deepEqual(lines, []);
});
