import assert from "node:assert/strict";
import { referenceKernels } from "../wasm/mod.ts";
import type { ClipEncoder, ClipEncoding, ClipSpec } from "./clip_encoder.ts";
import { createFrame, type Frame } from "./frame.ts";
import { type ClipSink, SessionRecorder } from "./session_recorder.ts";
import { collectSignals, type PipelineSignal } from "./signal.ts";
import { StageMetrics } from "./stage_metrics.ts";

/** An encoder (simulated) that writes one byte per frame and closes its output on close. */
const fakeEncoder: ClipEncoder = {
  backend: "fake",
  open(spec: ClipSpec): Promise<ClipEncoding> {
    let out!: ReadableStreamDefaultController<Uint8Array>;
    let frames = 0;
    return Promise.resolve({
      spec,
      output: new ReadableStream<Uint8Array>({ start: (c) => void (out = c) }),
      write() {
        frames++;
        out.enqueue(new Uint8Array([frames & 0xff]));
        return Promise.resolve();
      },
      close() {
        out.close();
        return Promise.resolve({ frames, bytes: frames });
      },
      abort() {
        out.error(new Error("aborted"));
      },
    });
  },
  [Symbol.asyncDispose]: () => Promise.resolve(),
};

/** 16x16 I420 frames of camera `cam-1` every 66 ms from 0 to `to` ms. */
function frames(to: number): ReadableStream<Frame> {
  let ts = 0;
  return new ReadableStream<Frame>({
    pull(c) {
      if (ts > to) return c.close();
      c.enqueue(createFrame({
        cameraId: "cam-1",
        deviceId: "m001-a",
        seq: ts,
        ts,
        width: 16,
        height: 16,
        format: "i420",
        data: new Uint8Array(16 * 16 * 3 / 2).fill(ts & 0xff),
      }));
      ts += 66;
    },
  });
}

Deno.test("SessionRecorder reports a clip whose end the sink refuses, instead of losing it silently", async () => {
  const signals: PipelineSignal[] = [];
  const metrics = new StageMetrics("recorder");
  let finished = 0;
  const sink: ClipSink = {
    create: () =>
      Promise.resolve({
        write: () => Promise.resolve(),
        finish: () => {
          finished++;
          return Promise.reject(new Error("disk full"));
        },
        discard: () => Promise.resolve(),
      }),
  };
  const recorder = new SessionRecorder({
    encoder: fakeEncoder,
    sink,
    kernels: referenceKernels,
    preRollMs: 200,
    postRollMs: 200,
    signals: collectSignals(signals),
    metrics,
  });
  recorder.open("s-1", 500);
  recorder.close("s-1", 1000);
  await frames(2000).pipeTo(recorder.writable);
  await recorder[Symbol.asyncDispose]();
  assert.equal(finished, 1);
  assert.equal(recorder.clips, 0, "the clip was not stored");
  const errors = signals.filter((s) => s.type === "recording_error");
  assert.deepEqual(errors.map((s) => [s.cameraId, "sessionId" in s && s.sessionId]), [[
    "cam-1",
    "s-1",
  ]]);
  assert.match((errors[0] as { reason: string }).reason, /cannot store the clip: disk full/);
  assert.equal(metrics.snapshot().errors, 1);
});

Deno.test("SessionRecorder reports a refused clip that cannot be discarded either", async () => {
  const signals: PipelineSignal[] = [];
  const sink: ClipSink = {
    create: () =>
      Promise.resolve({
        write: () => Promise.reject(new Error("quota exceeded")),
        finish: () => Promise.resolve(),
        discard: () => Promise.reject(new Error("spool gone")),
      }),
  };
  const recorder = new SessionRecorder({
    encoder: fakeEncoder,
    sink,
    kernels: referenceKernels,
    preRollMs: 200,
    postRollMs: 200,
    signals: collectSignals(signals),
  });
  recorder.open("s-1", 500);
  recorder.close("s-1", 1000);
  await frames(2000).pipeTo(recorder.writable);
  await recorder[Symbol.asyncDispose]();
  const reasons = signals.filter((s) => s.type === "recording_error").map((s) =>
    (s as { reason: string }).reason
  );
  assert.ok(reasons.some((r) => /cannot discard the clip: spool gone/.test(r)), String(reasons));
  assert.ok(reasons.some((r) => /quota exceeded/.test(r)), String(reasons));
});
