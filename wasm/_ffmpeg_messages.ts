/**
 * Messages between `FfmpegWorker` and its worker.
 *
 * @module
 */

/** Main thread to worker. */
export type FfmpegWorkerRequest =
  | { type: "ring"; ring: SharedArrayBuffer }
  | { type: "run"; job: number; args: string[] };

/** Worker to main thread. */
export type FfmpegWorkerReply =
  | { type: "ready" }
  | { type: "data"; job: number; bytes: Uint8Array }
  | { type: "done"; job: number; code: number; log: string[]; bytes: number }
  | { type: "failed"; job: number; message: string };
