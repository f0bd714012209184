/**
 * `./vend demo`: starts the local NATS (or uses `NATS_URL`), a cloud service process, and
 * simulated vending machines (each a primary and a secondary agent process on synthetic
 * cameras, with a simulated shopper who opens the door, takes products and closes it). A demo
 * customer (a sandbox payment method, simulated) starts a payment session at each machine every
 * `--session-every` seconds through the API: the hold, the unlock, the door session, the cart
 * charged. NATS runs with decentralized authentication: each device connects with its own
 * credentials and pins the cloud's command key. Prints `name: value` lines (`nats: URL`,
 * `creds: PATH` (the cloud's credentials), `ca: PATH` (the private CA of NATS's and the API's
 * TLS certificates), `api: URL`, `dashboard: URL` (a one-time
 * admin login link), `machines: m001,m002`, then `receipt: SESSION TOTAL` as receipts are issued
 * and `review: SESSION REASONS` as sessions go to review) and runs until Ctrl-C or `--duration`.
 *
 * `--regions 2` (or 3) runs a supercluster instead of the single server: a 3-server cluster per
 * region (`eu-west`, `us-east`, `ap-south`) on loopback with generated configurations, a witness
 * server when the number of regions is even, a cloud service per region (`api-<region>: URL`,
 * `nats-<region>: URLS`), and the machines spread over the regions, each device with its home
 * region's servers and the others' as failover.
 *
 * @example
 * ```sh
 * ./vend demo --machines 3 --duration 60
 * ./vend demo --regions 2 --machines 2
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Kvm } from "@nats-io/kv";
import { abortable, onShutdown, writePrivateFile } from "../runtime/mod.ts";
import {
  connectNats,
  createLoginCode,
  ensurePrivateCa,
  issueServerCertificate,
  loadCommandKey,
  TokenService,
} from "../cloud/mod.ts";
import {
  defaultDataDir,
  ensureNats,
  type LocalSupercluster,
  type NatsEndpoint,
  startLocalSupercluster,
} from "../cloud/dev/mod.ts";
import { buckets, filters, parsePaymentEvent, type TrustedKey } from "../protocol/mod.ts";

const USAGE =
  "Usage: ./vend demo [--duration SECONDS] [--machines N] [--session-every SECONDS] [--no-customer] [--regions N]";

/** Region ids of `--regions N` (2 or 3); one region is `local`, on a single server. */
const REGION_NAMES = ["eu-west", "us-east", "ap-south"];
const ROOT = new URL("../", import.meta.url).pathname;

function fail(message: string, code = 2): never {
  console.error(`demo: ${message}\n${USAGE}`);
  Deno.exit(code);
}

function positive(
  name: string,
  value: string | undefined,
  fallback: number,
  integer = false,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    fail(`--${name} must be a positive ${integer ? "integer" : "number"}, got "${value}"`);
  }
  return n;
}

/** Reads lines from a child's stdout until one starts with `prefix`; keeps draining afterwards. */
/** Removes folder `path` and what it holds; one that is not there is fine. */
async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

async function readUntil(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
): Promise<string | undefined> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return undefined;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.startsWith(prefix)) {
        // The rest is drained (a full pipe would stall the child); a read that fails is said.
        (async () => {
          while (!(await reader.read()).done) { /* drain */ }
        })().catch((e) => console.error(`demo: a child's output: ${(e as Error).message}`));
        return line.slice(prefix.length).trim();
      }
    }
  }
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        duration: { type: "string" },
        machines: { type: "string" },
        "session-every": { type: "string" },
        "no-customer": { type: "boolean" },
        regions: { type: "string" },
      },
      strict: true,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  const durationMs = values.duration === undefined
    ? undefined
    : positive("duration", values.duration, 0) * 1000;
  const machines = positive("machines", values.machines, 2, true);
  const sessionEvery = positive("session-every", values["session-every"], 20);
  if (values["no-customer"] && values["session-every"] !== undefined) {
    fail("--session-every is the demo customer's: it makes no sense with --no-customer");
  }
  if (machines > 50) fail(`--machines ${machines} is more than this demo runs (50)`);
  const regionCount = positive("regions", values.regions, 1, true);
  if (regionCount > REGION_NAMES.length) {
    fail(`--regions ${regionCount} is more than this demo runs (${REGION_NAMES.length})`);
  }
  const regions = regionCount === 1 ? ["local"] : REGION_NAMES.slice(0, regionCount);

  const shutdown = onShutdown();
  // One region: the single local server (or NATS_URL). Several: a supercluster on loopback,
  // 3 servers per region (configs generated into the data folder), a witness when even.
  let supercluster: LocalSupercluster | undefined;
  if (regionCount > 1) {
    const dataDir = `${defaultDataDir()}/regions`;
    await removeIfPresent(`${dataDir}/supercluster`); // the last run's, if any
    supercluster = await startLocalSupercluster({ dataDir, regions, signal: shutdown });
  }
  await using _stopSupercluster = {
    [Symbol.asyncDispose]: () => supercluster?.stop() ?? Promise.resolve(),
  };
  await using nats: NatsEndpoint = supercluster
    ? {
      url: supercluster.url(regions[0]),
      local: true,
      credentialsFile: supercluster.credentialsFile!,
      caFile: supercluster.caFile!,
      accounts: supercluster.accounts!,
      stop: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    }
    : await ensureNats({ signal: shutdown, port: 4222 });
  /** The servers of each region (a region's devices fail over to the others'). */
  const regionUrl = (region: string) => supercluster ? supercluster.url(region) : nats.url;
  console.log(`nats: ${nats.url}`);
  if (supercluster) {
    for (const r of regions) console.log(`nats-${r}: ${supercluster.url(r)}`);
  }
  // The cloud's credentials (the server refuses clients without any): for tools and tests.
  if (nats.credentialsFile) console.log(`creds: ${nats.credentialsFile}`);
  // TLS everywhere: the private CA (made with the server) signed NATS's and the API's
  // certificates; clients trust its ca.pem.
  const apiTls = nats.accounts && nats.caFile
    ? await issueServerCertificate(
      await ensurePrivateCa(nats.accounts.dir),
      `${nats.accounts.dir}/tls`,
      { name: "api" },
    )
    : undefined;
  if (nats.caFile) console.log(`ca: ${nats.caFile}`);
  const client = nats.caFile
    ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(nats.caFile)] })
    : undefined;
  const children: Deno.ChildProcess[] = [];
  const stopAll = async () => {
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch (e) {
        // Exited already (Deno: a TypeError, or ESRCH once reaped). Anything else throws.
        if (!(e instanceof TypeError) && !(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    await Promise.allSettled(children.map((c) => c.status));
  };
  try {
    // A cloud service per region, each on its region's servers.
    const apiPort = Number(Deno.env.get("VEND_API_PORT") ?? "8080");
    const apis = new Map<string, string>();
    const clouds: Deno.ChildProcess[] = [];
    for (const [i, region] of regions.entries()) {
      const cloud = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--frozen", `${ROOT}cli/cloud.ts`],
        env: {
          NATS_URL: regionUrl(region),
          ...(nats.credentialsFile ? { NATS_CREDS: nats.credentialsFile } : {}),
          ...(nats.caFile ? { NATS_CA: nats.caFile } : {}),
          ...(apiTls ? { VEND_TLS_CERT: apiTls.certFile, VEND_TLS_KEY: apiTls.keyFile } : {}),
          // The accounts' keys: the cloud provisions the devices and can revoke them.
          ...(nats.accounts ? { VEND_NATS_AUTH_DIR: nats.accounts.dir } : {}),
          // The next port for each region's API (0 picks a free one for each).
          VEND_API_PORT: String(apiPort === 0 ? 0 : apiPort + i),
          VEND_REGION: region,
          // Several regions: the first holds the global registry's originals.
          ...(supercluster ? { VEND_PRIMARY_REGION: regions[0]! } : {}),
          VEND_EXIT_WITH_PARENT: "1",
        },
        // A pipe this process never writes: the child stops when it closes (this process died).
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      children.push(cloud);
      clouds.push(cloud);
      const url = await abortable(readUntil(cloud.stdout, "api:"), { signal: shutdown });
      if (url === undefined) {
        throw new Error(
          `the cloud process of ${region} exited (${(await cloud.status).code}) before serving`,
        );
      }
      apis.set(region, url);
      if (supercluster) console.log(`api-${region}: ${url}`);
    }
    const api = apis.get(regions[0]!)!;
    console.log(`api: ${api}`);
    // A one-time login link for an admin operator, signed with the fleet's shared key.
    const nc = await connectNats(nats, { name: "vend-demo" });
    let token: string;
    let commandKey: TrustedKey;
    try {
      const service = await new Kvm(nc).create(buckets.service, { history: 1 });
      // What every device pins: the key that signs the cloud's commands.
      commandKey = (await loadCommandKey(service)).trusted;
      token = await (await TokenService.open(service)).issue({
        subject: "demo-admin",
        role: "admin",
      });
      console.log(`dashboard: ${api}/login?code=${await createLoginCode(service, token)}`);
    } catch (e) {
      await nc.close();
      throw e;
    }

    const dataRoot = `${
      Deno.env.get("VEND_DATA_DIR") ?? `${Deno.env.get("HOME")}/.local/share/vendstream`
    }/agents`;
    const model = await Deno.stat(`${ROOT}models/build/default/model.json`)
      .then(() => `${ROOT}models/build/default`, () => undefined);
    const call = async (path: string, body: unknown, base = api) => {
      const res = await fetch(`${base}${path}`, {
        ...(client ? { client } : {}),
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const json = await res.json();
      if (!res.ok) throw new Error(`${path}: ${res.status} ${json.detail ?? ""}`);
      return json;
    };
    const ids = Array.from({ length: machines }, (_, i) => `m${String(i + 1).padStart(3, "0")}`);
    /** Each machine's home region: the machines are spread over the regions in turn. */
    const homeOf = (machineId: string) => regions[(ids.indexOf(machineId)) % regions.length]!;
    // The devices provision themselves by claim on first boot, as in the field: a batch with
    // their serials, and its claim credential shipped with each. A device that has an identity
    // from an earlier run keeps it.
    const claims = new Map<string, { batchId: string; file: string }>();
    for (const region of nats.accounts ? regions : []) {
      const batchId = `demo-${region}-${Date.now().toString(36)}`;
      const batch = await call("/batches", {
        batchId,
        region,
        devices: ids.filter((id) => homeOf(id) === region).flatMap((machineId) =>
          (["primary", "secondary"] as const).map((role) => {
            const deviceId = `${machineId}-${role === "primary" ? "a" : "b"}`;
            return { serial: `SN-${deviceId}`, deviceId, machineId, role };
          })
        ),
      });
      await Deno.mkdir(dataRoot, { recursive: true });
      const claim = { batchId, file: `${dataRoot}/claim-${region}.creds` };
      await writePrivateFile(claim.file, batch.claimCredentials);
      claims.set(region, claim);
    }
    for (const machineId of ids) {
      const m = ids.indexOf(machineId) + 1;
      for (const role of ["primary", "secondary"] as const) {
        const deviceId = `${machineId}-${role === "primary" ? "a" : "b"}`;
        const dataDir = `${dataRoot}/${deviceId}`;
        const home = homeOf(machineId);
        const claim = claims.get(home);
        if (supercluster) {
          // Each run's supercluster is new: an identity from an earlier run is not in it.
          await removeIfPresent(dataDir);
        }
        await Deno.mkdir(dataDir, { recursive: true });
        const config = {
          // With a claim the identity (id, machine, role, credentials, command key) comes from
          // provisioning; on an external server without one, the device is configured by hand.
          ...(claim
            ? {
              provisioning: {
                batchId: claim.batchId,
                serial: `SN-${deviceId}`,
                claimCredentialsFile: claim.file,
              },
            }
            : {
              deviceId,
              machineId,
              role,
              ...(role === "secondary" ? { primaryDeviceId: `${machineId}-a` } : {}),
              commands: { trustedKeys: [commandKey] },
            }),
          ...(claim ? {} : { region: home }),
          nats: {
            servers: regionUrl(home).split(","),
            // Its region's servers first; the other regions' when its own is down.
            ...(supercluster
              ? {
                failover: regions.filter((r) => r !== home).flatMap((r) => regionUrl(r).split(",")),
              }
              : {}),
            ...(nats.caFile ? { caFile: nats.caFile } : {}),
          },
          dataDir,
          heartbeatIntervalMs: 2000,
          telemetryIntervalMs: 5000,
          cameras: role === "primary"
            ? ["cam-1", "cam-2"].map((cameraId) => ({
              cameraId,
              source: { kind: "synthetic" },
              width: 320,
              height: 240,
              fps: 5,
            }))
            : [{
              cameraId: "cam-3",
              source: { kind: "synthetic" },
              width: 320,
              height: 240,
              fps: 5,
            }],
          // The primary decides carts with the default model (./vend trains it).
          ...(role === "primary" && model ? { recognition: { model } } : {}),
        };
        await Deno.writeTextFile(`${config.dataDir}/agent.json`, JSON.stringify(config, null, 2));
        const args = [
          "run",
          "-A",
          "--frozen",
          `${ROOT}edge/main.ts`,
          "--config",
          `${config.dataDir}/agent.json`,
          "--simulate",
          "--seed",
          String(m * 1000),
        ];
        if (role === "primary") args.push("--remote-camera", `${machineId}-b/cam-3/5`);
        const agent = new Deno.Command(Deno.execPath(), {
          args,
          // VEND_DATA_DIR (the demo's own) would override the agent's folder: four devices
          // would share one outbox.
          env: { VEND_EXIT_WITH_PARENT: "1", VEND_DATA_DIR: config.dataDir },
          stdin: "piped",
          stdout: "piped",
          stderr: Deno.env.get("VEND_DEMO_VERBOSE") ? "inherit" : "null",
        }).spawn();
        children.push(agent);
        if (
          (await abortable(readUntil(agent.stdout, "ready:"), { signal: shutdown })) === undefined
        ) {
          throw new Error(`agent ${deviceId} exited before it was ready`);
        }
      }
    }
    // The customer app at the first machine (what its QR code, /machines/m001/qr.svg, opens).
    console.log(`app: ${api}/app/m/${ids[0]}`);
    console.log(`machines: ${ids.join(",")}`);

    // The demo customer pays with a sandbox token (simulated provider) at every machine in turn.
    const customer = await call("/customers", { email: "demo@example.com" });
    await call(`/customers/${customer.customerId}/payment-methods`, { token: "pm_sandbox_visa" });
    const receipts = nc.subscribe(filters.payments());
    (async () => {
      for await (const m of receipts) {
        const e = parsePaymentEvent(m.data);
        if (e.ok && e.value.type === "receipt_issued") {
          console.log(`receipt: ${e.value.sessionId} ${e.value.total}`);
        } else if (e.ok && e.value.type === "review_required") {
          console.log(`review: ${e.value.sessionId} ${e.value.reasons.join("; ")}`);
        }
      }
    })().catch((e) => console.error(`demo: receipts: ${(e as Error).message}`));
    // A machine is unlocked once the cloud has heard from its primary, and one customer at a
    // time: the next session starts when the previous one is over.
    const get = async (path: string, base = api) => {
      const res = await fetch(`${base}${path}`, {
        ...(client ? { client } : {}),
        headers: { authorization: `Bearer ${token}` },
      });
      return res.ok ? await res.json() : undefined;
    };
    const last = new Map<string, string>();
    const shop = async () => {
      for (const machineId of ids) {
        const base = apis.get(homeOf(machineId))!;
        const status = (await get(`/devices/${machineId}-a`, base))?.status;
        const online = status?.status === "online" && status?.door === "closed";
        const previous = last.get(machineId);
        const busy = previous &&
          ["started", "held", "unlocked", "capturing"].includes(
            (await get(`/payments/sessions/${previous}`, base))?.state,
          );
        if (!online || busy) continue;
        const started = await call("/payments/sessions", {
          customerId: customer.customerId,
          machineId,
        }, base);
        last.set(machineId, started.sessionId);
        if (started.state !== "unlocked") {
          console.error(`demo: a session at ${machineId} is ${started.state}: ${started.failure}`);
        }
      }
    };
    // With --no-customer the machines wait for people (the customer app at `app:`).
    const shopping = values["no-customer"] ? undefined : setInterval(
      () => void shop().catch((e) => console.error(`demo: ${(e as Error).message}`)),
      sessionEvery * 1000,
    );
    if (shopping) await shop().catch((e) => console.error(`demo: ${(e as Error).message}`));

    const why = await new Promise<string>((resolve) => {
      // A stop that came while it started (after the last wait above) is not missed.
      if (shutdown.aborted) resolve("interrupted");
      shutdown.addEventListener("abort", () => resolve("interrupted"), { once: true });
      if (durationMs !== undefined) setTimeout(() => resolve("duration reached"), durationMs);
      for (const cloud of clouds) {
        cloud.status.then((s) => resolve(`cloud process exited with code ${s.code}`));
      }
    });
    clearInterval(shopping);
    receipts.unsubscribe();
    await nc.close();
    if (why.startsWith("cloud process exited")) throw new Error(why);
    console.error(`demo: stopping (${why})`);
  } catch (e) {
    // Ctrl-C during start-up: what was started is stopped (below), and that is a clean stop.
    if (!shutdown.aborted) throw e;
    console.error("demo: stopping (interrupted during start-up)");
  } finally {
    await stopAll();
  }
}

if (import.meta.main) {
  try {
    await main();
    Deno.exit(0);
  } catch (e) {
    console.error(`demo: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
