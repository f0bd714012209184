import assert from "node:assert/strict";
import { createFrame, type Frame } from "./frame.ts";
import type { FrameSet } from "./frame_set.ts";
import { FrameSync, FrameSyncCore, type SyncOutput } from "./frame_sync.ts";
import { prng } from "./scenario.ts";
import type { PipelineSignal } from "./signal.ts";
import { collectSignals } from "./signal.ts";
import { StageMetrics } from "./stage_metrics.ts";

let disposed = 0;
function frame(cameraId: string, ts: number, seq = 0): Frame {
  return createFrame(
    {
      cameraId,
      deviceId: "m1-a",
      seq,
      ts,
      width: 2,
      height: 2,
      format: "rgba",
      data: new Uint8Array(16),
    },
    { release: () => disposed++ },
  );
}

const sets = (out: SyncOutput[]) => out.flatMap((o) => (o.kind === "set" ? [o.set] : []));
const signals = (out: SyncOutput[]) => out.flatMap((o) => (o.kind === "signal" ? [o.signal] : []));
const cams3 = [{ cameraId: "cam-1", fps: 15 }, { cameraId: "cam-2", fps: 15 }, {
  cameraId: "cam-3",
  fps: 15,
}];

Deno.test("FrameSync aligns three jittery cameras into sets within the tolerance", () => {
  const core = new FrameSyncCore({ cameras: cams3 });
  const rand = prng(1);
  const out: FrameSet[] = [];
  // Each camera free-runs with its own phase and +-5 ms jitter; arrival order is interleaved.
  const arrivals: Frame[] = [];
  for (let i = 0; i < 60; i++) {
    cams3.forEach((c, k) =>
      arrivals.push(frame(c.cameraId, 1000 + i * 66.67 + k * 11 + (rand() - 0.5) * 10, i))
    );
  }
  arrivals.sort((a, b) => a.ts - b.ts);
  for (const f of arrivals) out.push(...sets(core.push(f, f.ts + 5)));
  out.push(...sets(core.flush(10_000)));
  assert.ok(out.length >= 58, `only ${out.length} sets`);
  for (const s of out.slice(0, -1)) {
    assert.equal(s.frames.size, 3, `set at ${s.ts} lacks ${s.missing}`);
    assert.ok(s.skewMs <= 500 / 15, `skew ${s.skewMs}`);
  }
});

Deno.test("FrameSync drops a late frame", () => {
  const metrics = new StageMetrics("sync");
  const core = new FrameSyncCore({ cameras: cams3.slice(0, 2), maxWaitMs: 100 }, metrics);
  const out: SyncOutput[] = [];
  for (let i = 0; i < 5; i++) out.push(...core.push(frame("cam-1", 1000 + i * 66), 1000 + i * 66));
  out.push(...core.poll(1500)); // cam-2 silent: sets go out without it after maxWait
  const emitted = sets(out);
  assert.ok(emitted.length >= 4);
  assert.deepEqual(emitted[0]!.missing, ["cam-2"]);
  const before = disposed;
  const late = core.push(frame("cam-2", 1000), 1500); // belongs to a set long gone
  assert.equal(sets(late).length, 0);
  assert.equal(disposed, before + 1, "the late frame is released");
  assert.equal(metrics.snapshot().drops, 1);
});

Deno.test("FrameSync declares a silent camera lost, stops waiting for it, and takes it back", () => {
  const core = new FrameSyncCore({ cameras: cams3, cameraTimeoutMs: 500, maxWaitMs: 10_000 });
  const out: SyncOutput[] = [];
  let t = 1000;
  for (let i = 0; i < 5; i++, t += 66) {
    for (const c of cams3) out.push(...core.push(frame(c.cameraId, t), t));
  }
  // cam-3 stops; the others go on. With maxWait this long, only the lost verdict unblocks sets.
  for (let i = 0; i < 15; i++, t += 66) {
    out.push(...core.push(frame("cam-1", t), t));
    out.push(...core.push(frame("cam-2", t), t));
  }
  const lost = signals(out).filter((s) => s.type === "camera_lost");
  assert.equal(lost.length, 1);
  assert.equal(lost[0]!.cameraId, "cam-3");
  assert.match((lost[0] as { reason: string }).reason, /no frame for \d+ ms/);
  const after = sets(out).filter((s) => s.ts > 1000 + 5 * 66 + 600);
  assert.ok(after.length > 3, "sets keep flowing without the lost camera");
  assert.ok(after.every((s) => s.missing.includes("cam-3") && s.frames.size === 2));
  const back = core.push(frame("cam-3", t), t);
  const resumed = signals(back).find((s) => s.type === "camera_resumed");
  assert.ok(resumed && resumed.type === "camera_resumed" && resumed.gapMs > 500);
  assert.deepEqual(core.lostCameras, []);
});

Deno.test("FrameSync refuses a frame whose timestamp goes backwards, naming the camera, and keeps going", () => {
  const metrics = new StageMetrics("sync");
  const core = new FrameSyncCore({ cameras: cams3.slice(0, 1) }, metrics);
  core.push(frame("cam-1", 2000), 2000);
  const out = core.push(frame("cam-1", 1990), 2001);
  const [err] = signals(out) as PipelineSignal[];
  assert.deepEqual(err, {
    type: "frame_error",
    cameraId: "cam-1",
    at: 2001,
    stage: "frame_sync",
    reason: "timestamp went backwards from 2000 to 1990",
  });
  assert.equal(sets(core.push(frame("cam-1", 2066), 2066)).length, 1);
  assert.equal(metrics.snapshot().errors, 1);
  const unknown = signals(core.push(frame("cam-9", 2100), 2100))[0];
  assert.match(unknown?.type === "frame_error" ? unknown.reason : "", /unknown camera "cam-9"/);
});

Deno.test("FrameSync paces sets by the slowest camera when frame rates differ", () => {
  const cams = [{ cameraId: "cam-1", fps: 30 }, { cameraId: "cam-2", fps: 15 }, {
    cameraId: "cam-3",
    fps: 10,
  }];
  const core = new FrameSyncCore({ cameras: cams });
  const all: Frame[] = [];
  for (const c of cams) {
    for (let i = 0; i < c.fps * 3; i++) {
      all.push(frame(c.cameraId, 1000 + (i * 1000) / c.fps + 1, i));
    }
  }
  all.sort((a, b) => a.ts - b.ts);
  const out: FrameSet[] = [];
  for (const f of all) out.push(...sets(core.push(f, f.ts + 1)));
  assert.ok(out.length >= 28 && out.length <= 30, `${out.length} sets for 3 s at 10 fps`);
  for (const s of out) assert.equal(s.frames.size, 3, `set at ${s.ts} missing ${s.missing}`);
});

Deno.test("FrameSync marks a camera missing when its frame was dropped", () => {
  const core = new FrameSyncCore({ cameras: cams3.slice(0, 2), maxWaitMs: 150 });
  const out: FrameSet[] = [];
  for (let i = 0; i < 6; i++) {
    const t = 1000 + i * 66;
    out.push(...sets(core.push(frame("cam-1", t), t)));
    if (i !== 2) out.push(...sets(core.push(frame("cam-2", t + 3), t + 3)));
  }
  out.push(...sets(core.poll(5000)));
  const third = out.find((s) => s.ts === 1000 + 2 * 66);
  assert.deepEqual(third?.missing, ["cam-2"]);
  assert.equal(out.filter((s) => s.missing.length === 0).length, 5);
});

Deno.test("FrameSync refuses bad camera lists", () => {
  assert.throws(() => new FrameSyncCore({ cameras: [] }), TypeError);
  assert.throws(
    () => new FrameSyncCore({ cameras: [{ cameraId: "a", fps: 0 }] }),
    /Invalid fps 0 for camera "a"/,
  );
  assert.throws(
    () => new FrameSyncCore({ cameras: [{ cameraId: "a", fps: 5 }, { cameraId: "a", fps: 5 }] }),
    /listed twice/,
  );
});

Deno.test("FrameSync stage streams sets and sends signals to its sink", async () => {
  const got: PipelineSignal[] = [];
  let clock = 0;
  const sync = new FrameSync({
    cameras: cams3.slice(0, 2),
    now: () => clock,
    signals: collectSignals(got),
    pollMs: 5,
  });
  const writer = sync.writable.getWriter();
  const reading = (async () => {
    const out: FrameSet[] = [];
    for await (const s of sync.readable) out.push(s);
    return out;
  })();
  for (let i = 0; i < 10; i++) {
    clock = 1000 + i * 66;
    await writer.write(frame("cam-1", clock));
    await writer.write(frame("cam-2", clock + 2));
  }
  await writer.write(frame("cam-2", 1000)); // backwards
  await writer.close();
  const out = await reading;
  assert.equal(out.length, 10);
  assert.ok(out.every((s) => s.frames.size === 2 && s.skewMs === 2));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.type, "frame_error");
  for (const s of out) s[Symbol.dispose]();
});
