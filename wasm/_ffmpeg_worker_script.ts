/**
 * The script of the worker that hosts one long-lived ffmpeg.wasm instance for `FfmpegWorker`. Each job
 * runs ffmpeg once with `/dev/vs_in` as its input, a character device that reads raw frames
 * from a shared byte ring (blocking on `Atomics.wait`), and `/dev/vs_out` as its output, a
 * device that posts every write to the main thread at once, so fragmented MP4 leaves the
 * worker while the clip is still being encoded. Nothing touches a disk.
 *
 * @module
 */
import { RingReader } from "./_byte_ring.ts";
import type { FfmpegWorkerReply, FfmpegWorkerRequest } from "./_ffmpeg_messages.ts";
import { loadFfmpegCore } from "./ffmpeg_core.ts";

interface WorkerScope {
  postMessage(message: FfmpegWorkerReply, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<FfmpegWorkerRequest>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

const EIO = 29;
let reader: RingReader | undefined;
let job = 0;
let written = 0;

const core = await loadFfmpegCore();
const { FS } = core;
FS.registerDevice(FS.makedev(64, 0), {
  read(_stream, buffer, offset, length) {
    if (!reader) throw new FS.ErrnoError(EIO);
    const n = reader.read(new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length));
    if (n < 0) throw new FS.ErrnoError(EIO);
    return n;
  },
});
FS.mkdev("/dev/vs_in", 0o444, FS.makedev(64, 0));
FS.registerDevice(FS.makedev(64, 1), {
  write(_stream, buffer, offset, length) {
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length).slice();
    written += length;
    scope.postMessage({ type: "data", job, bytes }, [bytes.buffer]);
    return length;
  },
});
FS.mkdev("/dev/vs_out", 0o222, FS.makedev(64, 1));

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === "ring") {
    reader = new RingReader(msg.ring);
    return;
  }
  job = msg.job;
  written = 0;
  try {
    const { code, log } = core.run(msg.args);
    scope.postMessage({ type: "done", job, code, log: log.slice(-40), bytes: written });
  } catch (cause) {
    scope.postMessage({ type: "failed", job, message: String((cause as Error)?.message ?? cause) });
  }
};
scope.postMessage({ type: "ready" });
