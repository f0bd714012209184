/**
 * Field samples on a real nats-server with the sandbox provider (simulated): door sessions'
 * outcomes and clip events on the EVENTS stream become samples (only from the device the
 * session's unlock went to and its cabinet), labelled by the payment's outcome; retention
 * deletes clips when they are due and keeps those a review or a dispute holds. The end-to-end
 * path (a real agent, its recordings and evidence, the API) is in field_dataset_test.ts.
 */
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { KvSandboxStore, PaymentService, PriceBook } from "../cloud/checkout/mod.ts";
import { ClipRetention, FieldDataset, FieldSamples } from "../cloud/datasets/mod.ts";
import { ensureStreams, openKv, openObjectStore } from "../cloud/nats/mod.ts";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import { priceList, SandboxProvider } from "../payments/mod.ts";
import {
  buckets,
  type ClipUploaded,
  clipUploaded,
  pipelineEvent,
  type SessionEvidenceWire,
  subjects,
} from "../protocol/mod.ts";
import { eventually } from "./edge_harness.ts";
import { startTestNats } from "./harness.ts";
import { type Completed, sessionCompleted } from "./payments_harness.ts";

const DAY = 86_400_000;

async function fixture() {
  const nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  let now = Date.now();
  const clock = () => now;
  const p = await PaymentService.open(nc, {
    region: "local",
    provider: new SandboxProvider(await KvSandboxStore.open(nc)),
    prices: await PriceBook.open(nc, { seed: priceList(DEFAULT_CATALOGUE) }),
    unlocker: {
      unlock: (machineId: string, sessionId: string) =>
        Promise.resolve({ deviceId: `${machineId}-a`, commandId: `cmd-${sessionId.slice(4, 20)}` }),
    },
    retryDelayMs: 10,
  });
  // The cabinet of m001: its primary and its secondary.
  const credentials = await openKv(nc, buckets.deviceCredentials, { history: 5 });
  await credentials.put("m001-a", JSON.stringify({ peers: ["m001-b"], region: "local" }));
  const samples = await FieldSamples.open(nc, {
    region: "local",
    retention: { days: 30, heldDays: 365 },
    now: clock,
  });
  const retention = new ClipRetention(nc, samples, { region: "local", sessions: p, now: clock });
  const dataset = new FieldDataset({
    samples,
    sessions: p,
    planograms: { versions: () => Promise.resolve([{ version: 1, slots: [] }]) },
    skusOf: () => Promise.resolve(new Set(DEFAULT_CATALOGUE.items.map((i) => i.sku))),
  });
  const stop = new AbortController();
  const running = Promise.all([p.run(stop.signal), samples.run(stop.signal)]);
  const c = await p.registerCustomer({ email: "ada@example.com" });
  await p.addPaymentMethod(c.customerId, { token: "pm_sandbox_visa" });
  const js = jetstream(nc);
  const clips = await openObjectStore(nc, buckets.clips);
  return {
    p,
    samples,
    retention,
    dataset,
    clips,
    advance: (ms: number) => (now += ms),
    now: clock,
    start: () => p.start({ customerId: c.customerId, machineId: "m001" }),
    /** Publishes a door session's outcome as device `deviceId` would. */
    async completed(e: Completed, deviceId = e.deviceId) {
      const event = { ...e, deviceId };
      await js.publish(
        subjects.pipelineEvent({ region: "local", deviceId }, "session_completed"),
        pipelineEvent.encode(event),
        { msgID: `${event.id}-${deviceId}` },
      );
    },
    /** Uploads a clip of `sessionId` as `deviceId` and announces it. */
    async clip(sessionId: string, deviceId: string, cameraId = "cam-1"): Promise<string> {
      const object = `${deviceId}/${sessionId}/${cameraId}-0.mp4`;
      const data = new TextEncoder().encode(`clip ${object}`);
      await clips.putBlob({ name: object }, data);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
      const c: ClipUploaded = {
        v: 1,
        id: `clip-${sessionId.slice(0, 40)}-${deviceId}-${cameraId}`,
        ts: Date.now(),
        deviceId,
        sessionId,
        cameraId,
        bucket: buckets.clips,
        object,
        sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
        bytes: data.length,
        codec: "h264",
        width: 320,
        height: 240,
        frames: 40,
        startTs: Date.now() - 7000,
        endTs: Date.now(),
      };
      await js.publish(
        subjects.clipUploaded({ region: "local", deviceId }),
        clipUploaded.encode(c),
        { msgID: c.id },
      );
      return object;
    },
    async [Symbol.asyncDispose]() {
      stop.abort();
      await running;
      await nc.close();
      await nats[Symbol.asyncDispose]();
    },
  };
}

const COLA = [{ sku: "COLA-330", qty: 1 }];

/** Evidence of a one-slot cabinet decided by planogram version `version`. */
function evidence(version: number | null, at: number): SessionEvidenceWire {
  const reading = { sku: "COLA-330", skuP: 0.99, count: 2, countP: 0.95 };
  return {
    planogramVersion: version,
    before: { ts: at - 5200, gain: { "cam-1": [1, 1, 1] } },
    after: { ts: at + 400, gain: { "cam-1": [1, 1, 1] } },
    slots: [{
      shelf: 0,
      slot: 0,
      sku: "COLA-330",
      before: reading,
      after: { ...reading, count: 1 },
      regions: { "cam-1": { before: { x0: 0.1, y0: 0.1, x1: 0.3, y1: 0.3 } } },
    }],
  };
}

Deno.test("field samples keep a session's decision, evidence and cabinet's clips; another device's are refused", async () => {
  await using f = await fixture();
  const s = await f.start();
  const done = sessionCompleted(s.sessionId, COLA);
  // The clips may come before the outcome; the secondary's too; an outsider's never.
  const own = await f.clip(s.sessionId, "m001-a");
  const peer = await f.clip(s.sessionId, "m001-b", "cam-3");
  await f.clip(s.sessionId, "m002-a");
  // Another device's outcome for this session (it was not unlocked) makes no sample.
  await f.completed({ ...done, id: `${done.id.slice(0, 50)}-x`, cart: [] }, "m002-a");
  await f.completed({ ...done, evidence: evidence(1, done.closedAt) });
  const sample = await eventually(
    async () => {
      const x = await f.samples.get(s.sessionId);
      return x?.decision && x.clips.length === 2 ? x : undefined;
    },
    20_000,
    "the sample with its decision and clips",
  );
  assert.deepEqual(sample.clips.map((c) => c.object), [own, peer]);
  assert.equal(sample.deviceId, "m001-a");
  assert.deepEqual(sample.decision?.cart, COLA);
  assert.equal(sample.evidence?.planogramVersion, 1);
  assert.equal(sample.modelVersion, "1.0.0");
  assert.equal(sample.clipsExpireAt, Math.min(done.closedAt, f.now()) + 30 * DAY);
  // Handled concurrently: the outsider's events may still be in hand when the sample is whole.
  await eventually(
    () =>
      f.samples.ignored.not_from_cabinet === 1 && f.samples.ignored.not_from_unlocked_device === 1
        ? true
        : undefined,
    10_000,
    "the outsider's clip and outcome counted",
  );
  // Charged at 0.97 without review: a confident label from 0.95, none from 0.99.
  const listed = await eventually(
    async () => {
      const r = await f.dataset.list({ label: "confident" });
      return r.samples.length === 1 ? r : undefined;
    },
    20_000,
    "the sample labelled once settled",
  );
  assert.deepEqual(listed.samples[0]?.label, {
    source: "confident",
    cart: COLA,
    reviewer: null,
    corrected: false,
  });
  assert.deepEqual((await f.dataset.list({ minConfidence: 0.99 })).skipped, {
    below_confidence: 1,
  });
  assert.equal((await f.dataset.list({ label: "reviewed" })).samples.length, 0);
  assert.equal((await f.dataset.list({ machineId: "m002" })).matched, 0);
});

Deno.test("the field dataset leaves out, by reason, what cannot be a labelled sample", async () => {
  await using f = await fixture();
  const outcome = async (
    version: number | null | "none",
    review?: { cart: { sku: string; qty: number }[] },
  ) => {
    const s = await f.start();
    const done = sessionCompleted(s.sessionId, COLA, review ? { review: ["unsure"] } : {});
    await f.clip(s.sessionId, "m001-a");
    await f.completed(
      version === "none" ? done : { ...done, evidence: evidence(version, done.closedAt) },
    );
    const state = review ? "review" : "settled";
    await eventually(
      async () => ((await f.p.get(s.sessionId)).state === state ? true : undefined),
      20_000,
      state,
    );
    if (review) await f.p.review(s.sessionId, { reviewer: "ana", ...review });
    return s.sessionId;
  };
  await outcome(1);
  const corrected = await outcome(1, { cart: [{ sku: "WATER-500", qty: 1 }] });
  await outcome("none"); // a build that sends no evidence
  await outcome(7); // a planogram version nobody wrote
  await outcome(null); // no planogram at all
  const r = await eventually(
    async () => {
      const x = await f.dataset.list();
      return x.matched === 5 && x.samples.length === 2 ? x : undefined;
    },
    20_000,
    "five samples, two of them usable",
  );
  assert.deepEqual(r.skipped, { no_evidence: 1, unknown_planogram: 2 });
  const reviewed = r.samples.find((x) => x.sample.sessionId === corrected);
  assert.deepEqual(reviewed?.label, {
    source: "reviewed",
    cart: [{ sku: "WATER-500", qty: 1 }],
    reviewer: "ana",
    corrected: true,
  });
});

Deno.test("the field dataset scores a shadow candidate against reviewed truth and the live model", async () => {
  await using f = await fixture();
  const WATER = [{ sku: "WATER-500", qty: 1 }];
  const candidate = (cart: typeof COLA, version = "2.0.0") => ({
    modelVersion: version,
    cart,
    confidence: 0.99,
    review: { required: false, reasons: [] },
    liveMs: 120,
    candidateMs: 180,
  });
  // The live model is unsure and sends it to review; the candidate says water; a person agrees.
  const unsure = await f.start();
  const done = sessionCompleted(unsure.sessionId, COLA, { review: ["unsure"] });
  await f.completed({ ...done, candidate: candidate(WATER) });
  await eventually(
    async () => ((await f.p.get(unsure.sessionId)).state === "review" ? true : undefined),
    20_000,
    "in review",
  );
  await f.p.review(unsure.sessionId, { reviewer: "ana", cart: WATER });
  // Both charge cola: no reviewed truth, they agree.
  const sure = await f.start();
  await f.completed({ ...sessionCompleted(sure.sessionId, COLA), candidate: candidate(COLA) });
  // Another candidate's session is not this comparison's.
  const other = await f.start();
  await f.completed({
    ...sessionCompleted(other.sessionId, COLA),
    candidate: candidate(WATER, "3.0.0"),
  });
  const query = { candidate: "2.0.0", deviceIds: new Set(["m001-a"]), since: 0, minReviewed: 1 };
  const c = await eventually(
    async () => {
      const x = await f.dataset.compareShadow(query);
      return x.sessions === 2 && x.reviewed === 1 ? x : undefined;
    },
    20_000,
    "two sessions compared, one reviewed",
  );
  assert.deepEqual((await f.samples.get(sure.sessionId))?.candidate, candidate(COLA));
  assert.equal(c.agreement, 0.5);
  assert.equal(c.live.rightCharges, 0);
  assert.equal(c.live.reviewRate, 0.5);
  assert.equal(c.candidateScore.rightCharges, 1);
  assert.equal(c.candidateScore.exact, 1);
  assert.deepEqual([c.live.meanMs, c.candidateScore.meanMs], [120, 180]);
  assert.equal(c.verdict.state, "promote", c.verdict.reason);
  // Not the deployment's devices, or before it: nothing to compare.
  const none = await f.dataset.compareShadow({ ...query, deviceIds: new Set(["m002-a"]) });
  assert.equal(none.sessions, 0);
  assert.equal(none.verdict.state, "collecting");
  const later = await f.dataset.compareShadow({ ...query, since: f.now() + DAY });
  assert.equal(later.sessions, 0);
});

Deno.test("clip retention deletes clips when due, keeps those a review or a dispute holds", async () => {
  await using f = await fixture();
  const session = async (how: "charged" | "reviewed" | "in_review" | "disputed") => {
    const s = await f.start();
    const done = sessionCompleted(
      s.sessionId,
      COLA,
      how === "reviewed" || how === "in_review" ? { review: ["unsure"] } : {},
    );
    const object = await f.clip(s.sessionId, "m001-a");
    await f.completed({ ...done, evidence: evidence(1, done.closedAt) });
    await eventually(
      async () => (["settled", "review"].includes((await f.p.get(s.sessionId)).state) || undefined),
      20_000,
      "decided",
    );
    if (how === "reviewed") await f.p.review(s.sessionId, { reviewer: "ana", cart: COLA });
    if (how === "disputed") await f.p.dispute(s.sessionId, { reason: "I took nothing" });
    await eventually(
      async () => ((await f.samples.get(s.sessionId))?.clips.length === 1 || undefined),
      20_000,
      "the sample's clip",
    );
    return { sessionId: s.sessionId, object };
  };
  const charged = await session("charged");
  const reviewed = await session("reviewed");
  const inReview = await session("in_review");
  const disputed = await session("disputed");
  const exists = async (object: string) => {
    const info = await f.clips.info(object);
    return info !== null && !info.deleted;
  };
  assert.deepEqual(await f.retention.sweep(), { deleted: 0, held: 0, kept: 4 });
  // A month later: the charged session's clips go; the others are held.
  f.advance(31 * DAY);
  assert.deepEqual(await f.retention.sweep(), { deleted: 1, held: 3, kept: 0 });
  assert.equal(await exists(charged.object), false);
  assert.equal(typeof (await f.samples.get(charged.sessionId))?.clipsDeletedAt, "number");
  for (const x of [reviewed, inReview, disputed]) assert.equal(await exists(x.object), true);
  // The dataset no longer offers the deleted ones.
  const r = await f.dataset.list();
  assert.equal(r.skipped.clips_deleted, 1);
  // A year later: the reviewed and the disputed (settled) go; the review not done stays.
  f.advance(335 * DAY);
  assert.deepEqual(await f.retention.sweep(), { deleted: 2, held: 1, kept: 0 });
  assert.equal(await exists(reviewed.object), false);
  assert.equal(await exists(disputed.object), false);
  assert.equal(await exists(inReview.object), true);
  // Sweeping again changes nothing.
  assert.deepEqual(await f.retention.sweep(), { deleted: 0, held: 1, kept: 0 });
});
