/**
 * The field dataset end to end: a real nats-server, the cloud service and a real agent deciding
 * carts with the default model and recording every door session with ffmpeg.wasm (the cabinet
 * and its shopper simulated). Each session becomes a field sample with the device's per-slot
 * evidence and its cameras' clips; the API lists it labelled by the payment's outcome, exports
 * it as NDJSON, and serves its clips to operators only.
 */
import assert from "node:assert/strict";
import { startCloudService } from "../cloud/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { scenarioTruth } from "../pipeline/mod.ts";
import { toHex } from "../protocol/mod.ts";
import { ClipDecoder } from "../pipeline/mod.ts";
import { DEFAULT_INPUT, fieldCrops } from "../models/mod.ts";
import { loadWasmKernels } from "../wasm/mod.ts";
import { loadModelDir } from "../cli/eval.ts";
import { trainFromField } from "../cli/train_field.ts";
import { eventually, simulatedCabinet, usePlanogram } from "./edge_harness.ts";
import { apiClient, ROOT, startTestNats } from "./harness.ts";

const quiet: Logger = { log: () => {} };

Deno.test({
  name: "a door session becomes a field sample: the device's evidence and its cameras' clips, " +
    "labelled by the payment's outcome, listed, exported and served to operators only",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using nats = await startTestNats();
    await using svc = await startCloudService(nats, { logger: quiet });
    const token = await svc.tokens.issue({ subject: "ops", role: "operator" });
    const api = apiClient(svc.url, token);
    const viewer = await svc.tokens.issue({ subject: "eve", role: "viewer" });
    await using cabinet = await simulatedCabinet(nats, {
      seed: 2000050,
      recognizer: "model",
      config: {
        recording: { enabled: true, preRollMs: 1000, postRollMs: 1000, uploadIntervalMs: 200 },
      },
      isOnline: () => svc.state.statuses.get("m001-a") !== undefined,
    });
    const version = await usePlanogram(svc);
    const c = await api("POST", "/customers", { email: "ada@example.com" });
    await api("POST", `/customers/${c.body.customerId}/payment-methods`, {
      token: "pm_sandbox_visa",
    });
    const started = await api("POST", "/payments/sessions", {
      customerId: c.body.customerId,
      machineId: "m001",
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const sessionId: string = started.body.sessionId;
    const done = await eventually(
      async () => {
        const s = await api("GET", `/payments/sessions/${sessionId}`);
        return ["settled", "review"].includes(s.body.state) ? s.body : undefined;
      },
      60_000,
      "settled or in review",
    );
    const truth = [...scenarioTruth(cabinet.scene.current.scenario).carts[0]!]
      .filter(([, qty]) => qty > 0)
      .map(([sku, qty]) => ({ sku, qty }))
      .sort((a, b) => a.sku.localeCompare(b.sku));
    if (done.state === "review") {
      const r = await api("POST", `/payments/sessions/${sessionId}/review`, {
        reviewer: "ana",
        cart: truth,
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const source = done.state === "review" ? "reviewed" : "confident";
    // Listed once both clips are in (they upload after the session).
    const listing = await eventually(
      async () => {
        const r = await api("GET", "/datasets/field?machine=m001");
        const s = r.body.samples?.[0];
        return s?.clips.length === 2 ? r.body : undefined;
      },
      60_000,
      "the sample with its two clips",
    );
    const summary = listing.samples[0];
    assert.equal(summary.sessionId, sessionId);
    assert.equal(summary.planogramVersion, version);
    assert.equal(summary.label.source, source);
    assert.deepEqual(
      [...summary.label.cart].sort((a: { sku: string }, b: { sku: string }) =>
        a.sku.localeCompare(b.sku)
      ),
      truth,
    );
    assert.deepEqual(summary.clips.map((x: { cameraId: string }) => x.cameraId).sort(), [
      "cam-1",
      "cam-2",
    ]);
    // The export: the whole sample a line, then the summary.
    const res = await fetch(`${svc.url}/datasets/field/export?label=${source}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[1].summary.exported, 1);
    const { sample, planogram } = lines[0];
    assert.equal(planogram.version, version);
    assert.equal(planogram.slots.length, 12);
    const evidence = sample.evidence;
    assert.equal(evidence.slots.length, 12);
    for (const slot of evidence.slots) {
      assert.ok(slot.before && slot.after, `slot ${slot.shelf}/${slot.slot} read at both moments`);
      assert.ok(Object.keys(slot.regions).length >= 1, "cut from at least one camera");
    }
    // Each clip holds both moments the evidence was read at: a builder can cut them again.
    for (const clip of sample.clips) {
      assert.ok(clip.startTs <= evidence.before.ts, `${clip.object} starts before the door opened`);
      assert.ok(clip.endTs >= evidence.after.ts, `${clip.object} ends after the shelves settled`);
      const url = `${svc.url}/datasets/field/${sessionId}/clip?object=${
        encodeURIComponent(clip.object)
      }`;
      const mp4 = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(mp4.status, 200);
      const bytes = await mp4.bytes();
      assert.equal(
        toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))),
        clip.sha256,
      );
      const refused = await fetch(url, { headers: { authorization: `Bearer ${viewer}` } });
      assert.equal(refused.status, 403);
      await refused.body?.cancel();
    }
    // The dataset builder cuts the slots again from the clips, where the device cut them: the
    // model reads its own crops back (a crop beside the slot would read as something else).
    const bytes = new Map<string, Uint8Array>();
    const readClip = async (id: string, object: string) => {
      const got = bytes.get(object) ??
        await (await fetch(
          `${svc.url}/datasets/field/${id}/clip?object=${encodeURIComponent(object)}`,
          { headers: { authorization: `Bearer ${token}` } },
        )).bytes();
      bytes.set(object, got);
      return got;
    };
    await using classifier = await loadModelDir(`${ROOT}models/build/default`);
    const model = { manifest: classifier.manifest };
    const { size, mean, std } = model.manifest.input;
    const input = { ...DEFAULT_INPUT, size, mean, std };
    await using decoder = new ClipDecoder();
    const built = await fieldCrops([lines[0]], {
      labels: model.manifest.labels,
      input,
      kernels: await loadWasmKernels(),
      decoder,
      readClip,
    });
    const crops = built.dataset;
    // 12 slots, both moments, seen by one camera or two; what is left out says why.
    assert.ok(crops.n >= 24, `${crops.n} crops, skipped ${JSON.stringify(built.skipped)}`);
    assert.deepEqual(built.sessions, [sessionId]);
    const p = await classifier.classify(crops.x, crops.n);
    const k = model.manifest.labels.length;
    let agree = 0;
    for (let i = 0; i < crops.n; i++) {
      const row = p.sku.subarray(i * k, (i + 1) * k);
      if (row.indexOf(Math.max(...row)) === crops.sku[i]) agree++;
    }
    assert.ok(agree / crops.n >= 0.9, `the model agrees with ${agree} of ${crops.n} labels`);
    // A clip whose bytes are not its own is left out, counted.
    const corrupt = await fieldCrops([lines[0]], {
      labels: model.manifest.labels,
      input,
      kernels: await loadWasmKernels(),
      decoder,
      readClip: async (id, object) => (await readClip(id, object)).subarray(0, 1000),
    });
    assert.equal(corrupt.dataset.n, 0);
    assert.equal(corrupt.skipped.clip_corrupt, 2);
    // Fine-tuned on it (one epoch, a little synthetic data): an artifact a device loads, with its
    // lineage and its comparison with the base.
    const out = await Deno.makeTempDir();
    const figures = await trainFromField({
      samples: [lines[0]],
      readClip,
      base: `${ROOT}models/build/default`,
      out: `${out}/field`,
      epochs: 1,
      syntheticSeeds: [1, 2],
      evalSeeds: [1_000_001, 1_000_001],
      heldOut: 0,
    });
    assert.equal(figures.field_sessions_trained, 1);
    const lineage = JSON.parse(await Deno.readTextFile(`${out}/field/lineage.json`));
    assert.equal(lineage.base.sha256, model.manifest.sha256);
    assert.deepEqual(lineage.samples.trained, [sessionId]);
    await using tuned = await loadModelDir(`${out}/field`);
    assert.deepEqual(tuned.manifest.labels, model.manifest.labels);
    assert.equal(tuned.manifest.version, "1.0.1");
    assert.match(await Deno.readTextFile(`${out}/field/report.md`), /\| candidate \| synthetic \|/);
    await Deno.remove(out, { recursive: true });
    // Bad input names the field.
    const bad = await api("GET", "/datasets/field?since=yesterday");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, "query.since");
    const other = await api(
      "GET",
      `/datasets/field/${sessionId}/clip?object=${encodeURIComponent("m002-a/x/cam-1-0.mp4")}`,
    );
    assert.equal(other.status, 404);
  },
});
