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
import { onShutdown } from "../runtime/mod.ts";
import type { TlsFiles } from "../cloud/provisioning/mod.ts";
import { ensureNats, type LocalSupercluster, type NatsEndpoint } from "../cloud/dev/mod.ts";
import { loginAdmin } from "./_demo_admin.ts";
import { demoApi } from "./_demo_api.ts";
import { startClouds } from "./_demo_clouds.ts";
import { startCustomer } from "./_demo_customer.ts";
import { startDevices } from "./_demo_devices.ts";
import { stockMachines } from "./_demo_planograms.ts";
import { type DemoOptions, parseDemoOptions } from "./_demo_options.ts";
import { ChildProcesses } from "./_demo_processes.ts";
import {
  apiTlsFor,
  type DemoContext,
  startSupercluster,
  superclusterEndpoint,
} from "./_demo_topology.ts";

/** The demo's parts, for benchmarks that drive a fleet the way the demo does (bench/flywheel.ts). */
export { loginAdmin } from "./_demo_admin.ts";
export { type DemoApi, demoApi } from "./_demo_api.ts";
export { startClouds } from "./_demo_clouds.ts";
export { startDevices } from "./_demo_devices.ts";
export { stockMachines } from "./_demo_planograms.ts";
export { ChildProcesses } from "./_demo_processes.ts";
export { singleRegionContext } from "./_demo_topology.ts";

/** Prints the servers (`nats:`, `nats-<region>:`, `creds:`, `ca:`) and makes the API's TLS. */
async function serverTls(
  nats: NatsEndpoint,
  regions: string[],
  supercluster: LocalSupercluster | undefined,
): Promise<{ apiTls: TlsFiles | undefined; client: Deno.HttpClient | undefined }> {
  console.log(`nats: ${nats.url}`);
  if (supercluster) {
    for (const r of regions) console.log(`nats-${r}: ${supercluster.url(r)}`);
  }
  // The cloud's credentials (the server refuses clients without any): for tools and tests.
  if (nats.credentialsFile) console.log(`creds: ${nats.credentialsFile}`);
  // TLS everywhere: the private CA (made with the server) signed NATS's and the API's
  // certificates; clients trust its ca.pem.
  const { apiTls, client } = await apiTlsFor(nats);
  if (nats.caFile) console.log(`ca: ${nats.caFile}`);
  return { apiTls, client };
}

/** Waits for Ctrl-C, `--duration` or a cloud process that exits; says which. */
function stopReason(
  shutdown: AbortSignal,
  clouds: Deno.ChildProcess[],
  durationMs: number | undefined,
): Promise<string> {
  return new Promise<string>((resolve) => {
    // A stop that came while it started (after the last wait above) is not missed.
    if (shutdown.aborted) resolve("interrupted");
    shutdown.addEventListener("abort", () => resolve("interrupted"), { once: true });
    if (durationMs !== undefined) setTimeout(() => resolve("duration reached"), durationMs);
    for (const cloud of clouds) {
      cloud.status.then((s) => resolve(`cloud process exited with code ${s.code}`));
    }
  });
}

/**
 * Starts the clouds, the admin's login, the devices and the customer in turn, runs until a stop,
 * and stops the customer and the admin's connection (the child processes are the caller's).
 */
async function runDemo(ctx: DemoContext, options: DemoOptions): Promise<void> {
  const { regions } = ctx;
  // A cloud service per region, each on its region's servers.
  const { apis, clouds } = await startClouds(ctx);
  const apiUrl = apis.get(regions[0]!)!;
  console.log(`api: ${apiUrl}`);
  // A one-time login link for an admin operator, signed with the fleet's shared key.
  const { nc, token, commandKey } = await loginAdmin(ctx.nats, apiUrl);
  const api = demoApi(apiUrl, token, { client: ctx.client });
  const ids = Array.from(
    { length: options.machines },
    (_, i) => `m${String(i + 1).padStart(3, "0")}`,
  );
  /** Each machine's home region: the machines are spread over the regions in turn. */
  const homeOf = (machineId: string) => regions[(ids.indexOf(machineId)) % regions.length]!;
  await startDevices(ctx, { ids, homeOf, api, commandKey });
  // The operator's planogram of each machine: its primary decides by it.
  await stockMachines(api, ids, {
    apiOf: (id) => apis.get(homeOf(id)),
    signal: ctx.shutdown,
  });
  // The customer app at the first machine (what its QR code, /machines/m001/qr.svg, opens).
  console.log(`app: ${apiUrl}/app/m/${ids[0]}`);
  console.log(`machines: ${ids.join(",")}`);

  const customer = await startCustomer(api, nc, {
    ids,
    apis,
    homeOf,
    sessionEvery: options.sessionEvery,
    noCustomer: options.noCustomer,
  });
  const why = await stopReason(ctx.shutdown, clouds, options.durationMs);
  customer.stop();
  await nc.close();
  if (why.startsWith("cloud process exited")) throw new Error(why);
  console.error(`demo: stopping (${why})`);
}

async function main(): Promise<void> {
  const options = parseDemoOptions(Deno.args);
  const { regions } = options;
  const shutdown = onShutdown();
  // One region: the single local server (or NATS_URL). Several: a supercluster on loopback,
  // 3 servers per region (configs generated into the data folder), a witness when even.
  const supercluster = options.regionCount > 1
    ? await startSupercluster(regions, shutdown)
    : undefined;
  await using _stopSupercluster = {
    [Symbol.asyncDispose]: () => supercluster?.stop() ?? Promise.resolve(),
  };
  await using nats: NatsEndpoint = supercluster
    ? superclusterEndpoint(supercluster, regions[0])
    : await ensureNats({ signal: shutdown, port: 4222 });
  /** The servers of each region (a region's devices fail over to the others'). */
  const regionUrl = (region: string) => supercluster ? supercluster.url(region) : nats.url;
  const { apiTls, client } = await serverTls(nats, regions, supercluster);
  const children = new ChildProcesses();
  try {
    await runDemo({
      regions,
      nats,
      supercluster,
      regionUrl,
      apiTls,
      client,
      children,
      shutdown,
    }, options);
  } catch (e) {
    // Ctrl-C during start-up: what was started is stopped (below), and that is a clean stop.
    if (!shutdown.aborted) throw e;
    console.error("demo: stopping (interrupted during start-up)");
  } finally {
    await children.stopAll();
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
