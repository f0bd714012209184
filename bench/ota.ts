/**
 * `./vend bench ota`: a rollout of a 20 MB artifact to 1,000 simulated devices through one local
 * nats-server. The devices run in their own process (bench/_ota_devices.ts): each is the real
 * Updater behind a simulated device (edge/sim/simulated_update_device.ts), verifying the signed
 * manifest, every chunk and the whole artifact. The cloud side here is the real
 * ComponentRegistry and DeploymentService (canary first, then the rate). Measured: time from the
 * deployment's creation until 50% and 100% of the devices report healthy, the bytes the
 * devices' connections received, then a second version that changes one of the artifact's 20
 * files: how much of it the devices did not download (delta transfer).
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 *
 * @example
 * ```sh
 * ./vend bench ota --devices 1000 --artifact-mb 20
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { connectNats } from "../cloud/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { ComponentRegistry, DeploymentService } from "../cloud/updates/mod.ts";
import { startLocalNats } from "../cloud/dev/mod.ts";
import { filters, parseDeploymentEvent } from "../protocol/mod.ts";
import { machine, peakRssMb } from "./_machine.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    devices: { type: "string", default: "1000" },
    "artifact-mb": { type: "string", default: "20" },
    canary: { type: "string", default: "10" },
    rate: { type: "string", default: "100000" },
  },
});
const DEVICES = Number(values.devices);
const ARTIFACT_MB = Number(values["artifact-mb"]);
const CANARY = Number(values.canary);
const RATE = Number(values.rate);
const FILES = 20;
const ROOT = new URL("../", import.meta.url).pathname;
const log = (s: string) => console.error(`bench ota: ${s}`);
const MB = 1e6;

const work = await Deno.makeTempDir({ prefix: "vend-bench-ota-" });
const nats = await startLocalNats({ dataDir: `${work}/nats` });
const nc = await connectNats(nats, { name: "bench-ota-cloud" });
await ensureStreams(nc, "local");
const registry = await ComponentRegistry.open(nc);

/** Deterministic incompressible bytes (xorshift32). */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return out;
}

/** A tar of FILES files (ARTIFACT_MB in all); `changed` gets new contents. */
async function artifact(changed?: number): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ dir: work, prefix: "artifact-" });
  const size = Math.floor((ARTIFACT_MB * MB) / FILES);
  for (let i = 0; i < FILES; i++) {
    const seed = i === changed ? 1000 + i : 1 + i;
    await Deno.writeFile(`${dir}/part-${String(i).padStart(2, "0")}.bin`, noise(size, seed));
  }
  const out = await new Deno.Command("tar", {
    args: ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-cf", "-", "-C", dir, "."],
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error("tar failed");
  return out.stdout;
}

const recipe = (version: string) => ({
  component: "detector",
  version,
  kind: "model" as const,
  platform: { arch: ["x86_64", "aarch64"] },
});

log(
  `publishing a ${ARTIFACT_MB} MB artifact (1.0.0) and one with 1 of ${FILES} files changed (1.1.0)`,
);
const v1 = await artifact();
const v2 = await artifact(7);
await registry.publish(recipe("1.0.0"), [{ name: "model-pack.tar", data: v1 }]);
await registry.publish(recipe("1.1.0"), [{ name: "model-pack.tar", data: v2 }]);

log(`starting ${DEVICES} simulated devices`);
const devicesProc = new Deno.Command(Deno.execPath(), {
  // The simulated update devices share one process and the cloud's credentials (the rollout is
  // measured here; a device's own permissions are tested in tests/security_test.ts).
  env: { NATS_CREDS: nats.credentialsFile!, NATS_CA: nats.caFile! },
  args: [
    "run",
    "-A",
    "--frozen",
    `${ROOT}bench/_ota_devices.ts`,
    nats.url,
    String(DEVICES),
    `${work}/devices`,
    JSON.stringify(await registry.trustedKeys()),
  ],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const stdin = devicesProc.stdin.getWriter();
const lines = devicesProc.stdout.pipeThrough(new TextDecoderStream()).getReader();
let buffered = "";
async function line(): Promise<string> {
  for (;;) {
    const at = buffered.indexOf("\n");
    if (at >= 0) {
      const l = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      return l;
    }
    const { value, done } = await lines.read();
    if (done) throw new Error("the devices process exited");
    buffered += value;
  }
}
const t0Start = performance.now();
if ((await line()) !== "ready") throw new Error("devices did not start");
log(`devices ready in ${((performance.now() - t0Start) / 1000).toFixed(1)} s`);
async function inBytes(): Promise<number> {
  await stdin.write(new TextEncoder().encode("stats\n"));
  return JSON.parse(await line()).in_bytes;
}

const ids = Array.from({ length: DEVICES }, (_, i) => `bench-${String(i).padStart(4, "0")}-a`);
const service = await DeploymentService.open(nc, {
  region: "local",
  devices: () => ids.map((id) => ({ id, region: "local", tags: ["bench"], groups: [] })),
});
const stopService = new AbortController();
const running = service.run(nc, stopService.signal, { tickMs: 500 });

interface Done {
  at: number;
  total: number;
  saved: number;
}

/** Rolls `version` out to every device; resolves with the per-device outcomes. */
async function rollout(version: string) {
  const healthy = new Map<string, Done>();
  const failed = new Map<string, string>();
  const sub = nc.subscribe(filters.updateProgress({ region: "local" }));
  const before = await inBytes();
  const t0 = performance.now();
  const d = await service.create({
    targets: [{ component: "detector", version }],
    selector: { tags: ["bench"] },
    policy: { canary: CANARY, ratePerMinute: RATE, growth: 2, failureThreshold: 0.1 },
  });
  let t50 = NaN;
  let lastLog = 0;
  for await (const m of sub) {
    const e = parseDeploymentEvent(m.data);
    if (!e.ok || e.value.type !== "update_progress" || e.value.deploymentId !== d.id) continue;
    const p = e.value;
    if (p.phase === "healthy" && !healthy.has(p.deviceId)) {
      healthy.set(p.deviceId, {
        at: performance.now() - t0,
        total: p.bytesTotal,
        saved: p.bytesSaved,
      });
      if (healthy.size === Math.ceil(DEVICES / 2)) t50 = performance.now() - t0;
    } else if (p.phase === "failed") failed.set(p.deviceId, p.reason ?? "");
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      log(`${version}: ${healthy.size} healthy, ${failed.size} failed`);
    }
    if (healthy.size + failed.size === DEVICES) break;
  }
  const t100 = performance.now() - t0;
  sub.unsubscribe();
  const served = (await inBytes()) - before;
  // The deployment's own record agrees (read from NATS by the service).
  let state = "";
  for (let i = 0; i < 100 && state !== "completed"; i++) {
    state = (await service.get(d.id))?.state ?? "";
    if (state !== "completed") await new Promise((r) => setTimeout(r, 100));
  }
  const all = [...healthy.values()];
  const total = all.reduce((n, x) => n + x.total, 0);
  const saved = all.reduce((n, x) => n + x.saved, 0);
  log(
    `${version}: ${healthy.size} healthy, ${failed.size} failed, t50 ${
      (t50 / 1000).toFixed(1)
    } s, ` +
      `t100 ${(t100 / 1000).toFixed(1)} s, ${
        (served / MB).toFixed(0)
      } MB received, deployment ${state}`,
  );
  if (failed.size > 0) log(`first failure: ${[...failed.values()][0]}`);
  return { healthy: healthy.size, failed: failed.size, t50, t100, served, total, saved, state };
}

const first = await rollout("1.0.0");
const second = await rollout("1.1.0");

stopService.abort();
await running;
await service[Symbol.asyncDispose]();
await stdin.close();
await devicesProc.status;
await nc.close();
await nats.stop();
await Deno.remove(work, { recursive: true }).catch(() => {});

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
console.log(JSON.stringify({
  bench: "ota",
  machine: machine(),
  devices: DEVICES,
  artifact_mb: round(v1.length / MB),
  policy: { canary: CANARY, rate_per_minute: RATE, growth: 2, tick_ms: 500 },
  t50_s: round(first.t50 / 1000),
  t100_s: round(first.t100 / 1000),
  healthy: first.healthy,
  failed: first.failed,
  bytes_served_mb: round(first.served / MB, 1),
  artifact_bytes_downloaded_mb: round((first.total - first.saved) / MB, 1),
  delta_t100_s: round(second.t100 / 1000),
  delta_healthy: second.healthy,
  delta_bytes_served_mb: round(second.served / MB, 1),
  delta_saved_ratio: round(second.saved / second.total, 4),
  bench_rss_mb: peakRssMb(),
}));
