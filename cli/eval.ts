/**
 * `./vend eval [--seeds A..B] [--model DIR] [--threshold X] [--drop-camera ID] [--frame WxH]
 * [--events]`: the accuracy gate. Runs a door
 * session of each seed's scenario, clean and hard (occlusion, lighting changes, more noise),
 * through the device's session recognizer with the model (ONNX in onnxruntime-web, as on a
 * device) and prints one JSON object: `exact_match_clean`, `exact_match_hard`, `review_rate`,
 * `sessions` and more. Seeds default to 2000001..2000100, which no training run uses. With
 * `--events` the open door is filmed too and `event_match_clean` / `event_match_hard` give the
 * share of sessions whose take/return events are all right (kind, SKU, slot, order and time).
 *
 * With `--hard`, the clean scenarios are played once more in a world harder than the training
 * set (another site's light, a knocked camera, a take-and-return, two hands, a partly open door;
 * pipeline/world_conditions.ts): `exact_match_world`, `review_rate_world`,
 * `wrong_charged_world`.
 *
 * `./vend eval --live [--hard] [--seeds A..B] [--model DIR] [--width W --height H --fps F]` plays the
 * seeds through the live path instead (real agent processes, the remote camera over NATS, the
 * cloud and payments; see `_eval_live.ts`), at the demo's camera settings by default
 * (320x240, 5 fps), seeds 2000001..2000020 by default; its last line is one JSON object with
 * `sessions`, `exact_match`, `review_rate`, `wrong_charge_rate`, `review_reasons` and the
 * settings. `--hard` plays them in the hard world (its conditions, and a restocker who sometimes
 * swaps two slots or leaves one empty), with the figures `by_condition` too.
 *
 * @example
 * ```sh
 * ./vend eval --seeds 2000001..2000050
 * ./vend eval --live --seeds 2000001..2000010 --width 640 --height 480 --fps 15
 * ./vend eval --live --hard --seeds 2000001..2000100
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { evaluateSessions } from "../models/mod.ts";
import { HARD_WORLD, SlotClassifier } from "../pipeline/mod.ts";
import { onnxRuntime, readModelDir } from "../edge/agent/mod.ts";
import { loadWasmKernels } from "../wasm/mod.ts";
import { evaluateLive } from "./_eval_live.ts";
import { seedRange } from "./train.ts";

/** The live evaluation's parts, for benchmarks that play sessions on a demo fleet (bench/flywheel.ts). */
export { cartText, type LiveOutcome, playSession, SessionWatch } from "./_eval_live.ts";

/** Loads a model artifact folder (model.json and its ONNX file) into a classifier. */
export async function loadModelDir(dir: string, threads = 1): Promise<SlotClassifier> {
  return await SlotClassifier.load(await onnxRuntime("wasm", threads), await readModelDir(dir));
}

/** An integer flag within `min..max`; a `TypeError` naming the flag otherwise. */
function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= min && n <= max)) {
    throw new TypeError(`Invalid --${name} "${value}": expected an integer ${min}..${max}`);
  }
  return n;
}

/** `--live`: plays the seeds through the live path and prints the figures (the last line). */
async function runLive(values: {
  seeds: string;
  hard: boolean;
  model: string;
  width: string;
  height: string;
  fps: string;
}): Promise<void> {
  const [a, b] = seedRange(values.seeds, "--seeds");
  const seeds = Array.from({ length: b - a + 1 }, (_, i) => a + i);
  const cameras = {
    width: intFlag("width", values.width, 64, 1920),
    height: intFlag("height", values.height, 48, 1080),
    fps: intFlag("fps", values.fps, 1, 30),
  };
  const dataDir = await Deno.makeTempDir({ prefix: "vend-eval-live-" });
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const started = performance.now();
  try {
    const report = await evaluateLive({
      seeds,
      cameras,
      model: values.model,
      world: values.hard ? "hard" : "clean",
      dataDir,
      signal: stop.signal,
      log: (line) => console.error(`eval --live: ${line}`),
    });
    console.log(JSON.stringify({
      mode: "live",
      seeds: values.seeds,
      sessions: report.sessions,
      exact_match: report.exactMatch,
      review_rate: report.reviewRate,
      wrong_charge_rate: report.wrongChargeRate,
      failed_rate: report.failedRate,
      review_reasons: report.reviewReasons,
      world: values.hard ? "hard" : "clean",
      by_condition: Object.fromEntries(
        Object.entries(report.byCondition).map(([name, f]) => [name, {
          sessions: f.sessions,
          exact_match: f.exactMatch,
          review_rate: f.reviewRate,
          wrong_charge_rate: f.wrongChargeRate,
        }]),
      ),
      width: cameras.width,
      height: cameras.height,
      fps: cameras.fps,
      model: values.model,
      cores: navigator.hardwareConcurrency,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    }));
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await Deno.remove(dataDir, { recursive: true }).catch((e) =>
      console.error(`eval --live: ${dataDir} left behind: ${(e as Error).message}`)
    );
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seeds: { type: "string" },
      model: { type: "string", default: "models/build/default" },
      threshold: { type: "string" },
      "drop-camera": { type: "string" },
      frame: { type: "string", default: "640x480" },
      events: { type: "boolean", default: false },
      live: { type: "boolean", default: false },
      hard: { type: "boolean", default: false },
      width: { type: "string", default: "320" },
      height: { type: "string", default: "240" },
      fps: { type: "string", default: "5" },
    },
    strict: true,
  });
  try {
    if (values.live) {
      await runLive({ ...values, seeds: values.seeds ?? "2000001..2000020" });
      Deno.exit(0);
    }
    values.seeds ??= "2000001..2000100";
    const [a, b] = seedRange(values.seeds, "--seeds");
    const seeds = Array.from({ length: b - a + 1 }, (_, i) => a + i);
    const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
    if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
      throw new TypeError(`Invalid --threshold "${values.threshold}": expected 0..1`);
    }
    await using model = await loadModelDir(values.model);
    const kernels = await loadWasmKernels();
    const frameMatch = /^(\d{2,4})x(\d{2,4})$/.exec(values.frame);
    if (!frameMatch) throw new TypeError(`Invalid --frame "${values.frame}": expected WxH`);
    const common = {
      kernels,
      frame: { width: Number(frameMatch[1]), height: Number(frameMatch[2]) },
      ...(threshold !== undefined ? { threshold } : {}),
      ...(values["drop-camera"] ? { dropCamera: values["drop-camera"] } : {}),
      events: values.events,
      onProgress: (done: number, total: number) => {
        if (done % 25 === 0 || done === total) console.error(`eval: ${done}/${total}`);
      },
    };
    const started = performance.now();
    const clean = await evaluateSessions(model, seeds, { ...common, hard: false });
    const hard = await evaluateSessions(model, seeds, { ...common, hard: true });
    // --hard: the clean scenarios again, in the world harder than the training set.
    const world = values.hard
      ? await evaluateSessions(model, seeds, { ...common, hard: false, world: HARD_WORLD })
      : undefined;
    const all = [...clean.outcomes, ...hard.outcomes, ...(world?.outcomes ?? [])];
    for (const o of all.filter((o) => !o.exact)) {
      console.error(
        `eval: seed ${o.seed} ${o.review ? "review" : "WRONG"}: truth ${o.truth}, decided ` +
          `${o.decided}, confidence ${o.confidence.toFixed(3)}${
            o.reasons.length ? `: ${o.reasons.join("; ")}` : ""
          }`,
      );
    }
    for (const o of all.filter((o) => o.eventsExact === false)) {
      console.error(
        `eval: seed ${o.seed} events: truth ${o.truthEvents}, decided ${o.decidedEvents}`,
      );
    }
    const round = (x: number) => Math.round(x * 10000) / 10000;
    console.log(JSON.stringify({
      model: `${model.manifest.name} ${model.manifest.version}`,
      seeds: values.seeds,
      sessions: all.length,
      exact_match_clean: round(clean.exactMatch),
      exact_match_hard: round(hard.exactMatch),
      review_rate: round(all.filter((o) => o.review).length / all.length),
      review_rate_clean: round(clean.reviewRate),
      review_rate_hard: round(hard.reviewRate),
      wrong_charged: round(all.filter((o) => !o.exact && !o.review).length / all.length),
      ...(values.events
        ? {
          event_match_clean: round(clean.eventMatch ?? 0),
          event_match_hard: round(hard.eventMatch ?? 0),
        }
        : {}),
      ...(world
        ? {
          exact_match_world: round(world.exactMatch),
          review_rate_world: round(world.reviewRate),
          wrong_charged_world: round(world.wrongCharged),
        }
        : {}),
      ...(values["drop-camera"] ? { dropped_camera: values["drop-camera"] } : {}),
      frame: values.frame,
      seconds: round((performance.now() - started) / 1000),
    }));
  } catch (e) {
    console.error(`vend eval: ${(e as Error).message}`);
    Deno.exit(e instanceof TypeError ? 2 : 1);
  }
}
