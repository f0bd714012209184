/**
 * The demo's cloud services: one process per region, each on its region's servers.
 *
 * @module
 */
import { abortable } from "../runtime/mod.ts";
import { readUntil } from "./_demo_processes.ts";
import type { DemoContext } from "./_demo_topology.ts";
import { ROOT } from "./_repo_root.ts";

/** The cloud services started: each region's API URL, and their processes. */
export interface DemoClouds {
  /** Each region's API URL. */
  readonly apis: Map<string, string>;
  /** The cloud processes (the demo stops when one exits). */
  readonly clouds: Deno.ChildProcess[];
}

function spawnCloud(
  ctx: DemoContext,
  region: string,
  options: { apiPort: number; quiet: boolean },
): Deno.ChildProcess {
  const { nats, apiTls, supercluster, regions } = ctx;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", `${ROOT}cli/cloud.ts`],
    env: {
      NATS_URL: ctx.regionUrl(region),
      ...(nats.credentialsFile ? { NATS_CREDS: nats.credentialsFile } : {}),
      ...(nats.caFile ? { NATS_CA: nats.caFile } : {}),
      ...(apiTls ? { VEND_TLS_CERT: apiTls.certFile, VEND_TLS_KEY: apiTls.keyFile } : {}),
      // The accounts' keys: the cloud provisions the devices and can revoke them.
      ...(nats.accounts ? { VEND_NATS_AUTH_DIR: nats.accounts.dir } : {}),
      VEND_API_PORT: String(options.apiPort),
      VEND_REGION: region,
      // Several regions: the first holds the global registry's originals.
      ...(supercluster ? { VEND_PRIMARY_REGION: regions[0]! } : {}),
      VEND_EXIT_WITH_PARENT: "1",
    },
    // A pipe this process never writes: the child stops when it closes (this process died).
    stdin: "piped",
    stdout: "piped",
    stderr: options.quiet ? "null" : "inherit",
  }).spawn();
}

/**
 * Starts a cloud service per region, in turn, each waited for until it serves; the first API
 * on `options.apiPort` (default `VEND_API_PORT`, else 8080; 0 picks free ports). Their logs go
 * to stderr, unless `options.quiet`.
 */
export async function startClouds(
  ctx: DemoContext,
  options: { apiPort?: number; quiet?: boolean } = {},
): Promise<DemoClouds> {
  const apiPort = options.apiPort ?? Number(Deno.env.get("VEND_API_PORT") ?? "8080");
  const apis = new Map<string, string>();
  const clouds: Deno.ChildProcess[] = [];
  for (const [i, region] of ctx.regions.entries()) {
    // The next port for each region's API (0 picks a free one for each).
    const cloud = spawnCloud(ctx, region, {
      apiPort: apiPort === 0 ? 0 : apiPort + i,
      quiet: options.quiet ?? false,
    });
    ctx.children.add(cloud);
    clouds.push(cloud);
    const url = await abortable(readUntil(cloud.stdout, "api:"), { signal: ctx.shutdown });
    if (url === undefined) {
      throw new Error(
        `the cloud process of ${region} exited (${(await cloud.status).code}) before serving`,
      );
    }
    apis.set(region, url);
    if (ctx.supercluster) console.log(`api-${region}: ${url}`);
  }
  return { apis, clouds };
}
