import assert from "node:assert/strict";
import { type ClipEncoding, createFrame, StageMetrics } from "../../pipeline/mod.ts";
import { parseAgentConfig } from "../config/mod.ts";
import { Outbox } from "../delivery/mod.ts";
import { DeviceRecording } from "./device_recording.ts";

/** An encoder that is never asked for a clip here (no door session). */
const idleEncoder = {
  backend: "idle",
  open: (): Promise<ClipEncoding> => Promise.reject(new Error("no clip expected")),
  [Symbol.asyncDispose]: () => Promise.resolve(),
};

/** Recorder metrics that break when the queue hands a frame on (the feed fails there). */
class BrokenMetrics extends StageMetrics {
  override recordOut(): void {
    throw new Error("the recorder stage broke");
  }
}

Deno.test("DeviceRecording logs and counts a recorder feed that fails, and still stops", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "vend-rec-unit-" });
  const config = parseAgentConfig({
    deviceId: "m001-a",
    machineId: "m001",
    role: "primary",
    nats: { servers: ["nats://127.0.0.1:1"] },
    dataDir,
    cameras: [{ cameraId: "cam-1", source: { kind: "synthetic" }, width: 16, height: 16, fps: 5 }],
    recording: { enabled: true },
  });
  using outbox = new Outbox(`${dataDir}/outbox.db`);
  const metrics = new BrokenMetrics("recorder");
  const lines: Array<{ level: string; msg: string; error: unknown }> = [];
  const rec = await DeviceRecording.start(config, {
    outbox,
    encoder: idleEncoder,
    metrics,
    log: (level, msg, f) => void lines.push({ level, msg, error: f?.error }),
  });
  rec.offer(createFrame({
    cameraId: "cam-1",
    deviceId: "m001-a",
    seq: 0,
    ts: Date.now(),
    width: 16,
    height: 16,
    format: "i420",
    data: new Uint8Array(16 * 16 * 3 / 2),
  }));
  const deadline = Date.now() + 5000;
  while (lines.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(lines, [{
    level: "error",
    msg: "recording stopped: the recorder failed",
    error: "Error: the recorder stage broke",
  }]);
  assert.equal(metrics.snapshot().errors, 1);
  await rec.close({ graceMs: 1000 });
  assert.equal(lines.length, 1, JSON.stringify(lines));
  await Deno.remove(dataDir, { recursive: true });
});
