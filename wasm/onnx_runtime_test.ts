import assert from "node:assert/strict";
import { loadOrtWeb } from "./onnx_runtime.ts";

const MODEL = new URL("../models/default/slot_model.onnx", import.meta.url);

Deno.test("loadOrtWeb leaves the web Worker in place once a model has loaded", async () => {
  const before = globalThis.Worker;
  const ort = await loadOrtWeb();
  const session = await ort.InferenceSession.create(await Deno.readFile(MODEL));
  try {
    assert.equal(globalThis.Worker, before);
    // A web worker (a module one, as the cloud's ingest thread) starts and answers.
    const worker = new Worker(
      `data:text/javascript,${encodeURIComponent("self.postMessage('ready')")}`,
      { type: "module" },
    );
    try {
      const reply = await new Promise((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => reject(new Error(e.message));
      });
      assert.equal(reply, "ready");
    } finally {
      worker.terminate();
    }
  } finally {
    await session.release();
  }
});
