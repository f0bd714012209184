import assert from "node:assert/strict";
import { referenceKernels } from "../wasm/mod.ts";
import { createFrame, type Frame } from "./frame.ts";
import type { Publisher } from "./publisher.ts";
import { remoteFrameSink, remoteSource } from "./remote_frames.ts";
import { collectSignals, type PipelineSignal } from "./signal.ts";

/** An in-memory bus: what is published can be iterated. */
function memoryBus() {
  const messages: Array<{ subject: string; data: Uint8Array }> = [];
  const publisher: Publisher = {
    publish: (subject, data) => void messages.push({ subject, data }),
  };
  return { messages, publisher };
}

async function* iterate(items: Uint8Array[]) {
  for (const item of items) yield item;
}

function rgbaFrame(seq: number, ts: number): Frame {
  const data = new Uint8Array(6 * 4 * 4).map((_, i) => (i * 13 + seq) & 255);
  return createFrame({
    cameraId: "cam-3",
    deviceId: "m001-b",
    seq,
    ts,
    width: 6,
    height: 4,
    format: "rgba",
    data,
  });
}

Deno.test("remote frames cross the bus as I420 stamped on the reference clock", async () => {
  const bus = memoryBus();
  const sink = remoteFrameSink(bus.publisher, {
    device: { region: "local", deviceId: "m001-b" },
    toReference: (ts) => ts + 50,
    kernels: referenceKernels,
  });
  const writer = sink.getWriter();
  for (let i = 0; i < 3; i++) await writer.write(rgbaFrame(i, 1000 + i * 66));
  await writer.close();
  assert.deepEqual(
    new Set(bus.messages.map((m) => m.subject)),
    new Set(["vs.local.dev.m001-b.frames.cam-3"]),
  );
  const got: Frame[] = [];
  for await (
    const f of remoteSource(iterate(bus.messages.map((m) => m.data)), { cameraId: "cam-3" })
  ) got.push(f);
  assert.deepEqual(got.map((f) => [f.seq, f.ts, f.format, f.width, f.height]), [
    [0, 1050, "i420", 6, 4],
    [1, 1116, "i420", 6, 4],
    [2, 1182, "i420", 6, 4],
  ]);
  const expected =
    referenceKernels.rgbaToI420({ data: rgbaFrame(1, 0).data, width: 6, height: 4 }).data;
  assert.deepEqual([...got[1]!.data], [...expected]);
  assert.equal("v" in got[0]!, false);
});

Deno.test("remoteSource reports an undecodable message and goes on with the next", async () => {
  const bus = memoryBus();
  const writer = remoteFrameSink(bus.publisher, { device: { region: "local", deviceId: "m001-b" } })
    .getWriter();
  await writer.write(rgbaFrame(7, 2000));
  await writer.close();
  const signals: PipelineSignal[] = [];
  const inputs = [new TextEncoder().encode("not a frame"), bus.messages[0]!.data];
  const got: Frame[] = [];
  for await (
    const f of remoteSource(iterate(inputs), {
      cameraId: "cam-3",
      signals: collectSignals(signals),
      now: () => 9,
    })
  ) got.push(f);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.seq, 7);
  assert.equal(signals.length, 1);
  assert.deepEqual({ ...signals[0], reason: "" }, {
    type: "frame_error",
    cameraId: "cam-3",
    at: 9,
    stage: "remote_source",
    reason: "",
  });
  assert.match(signals[0]!.type === "frame_error" ? signals[0]!.reason : "", /VSF1/);
});
