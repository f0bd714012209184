/**
 * The layout of a NATS supercluster and each server's generated configuration: one cluster of
 * (by default) 3 servers per region, tagged `region:<id>` so JetStream places a region's streams
 * on its own servers, joined by gateways. With an even number of regions a one-server `witness`
 * cluster is added: JetStream's metadata group spans every server of the supercluster, and with
 * two regions of three, losing one region leaves 3 of 6 peers, no majority, and no stream or
 * consumer can be created anywhere (nats-server issue #4502: "3 clusters minimum"). With the
 * witness, 4 of 7 remain. The witness holds no stream (nothing is placed on its tag) and no
 * client connects to it.
 *
 * Every server lists every other cluster's gateway URLs: nats-server 2.9 counts them (plus its
 * routes) to size the metadata group when it first starts, and a count too low lets each
 * region elect its own metadata leader.
 *
 * @example
 * ```ts
 * import { planSupercluster, serverConfig } from "./supercluster.ts";
 *
 * const plan = planSupercluster(["eu-west", "us-east"]);
 * plan.servers.map((s) => s.name); // ["eu-west-1", ..., "us-east-3", "witness-1"]
 * const conf = serverConfig(plan, "eu-west-1", { storeDir: "/var/lib/nats/eu-west-1" });
 * ```
 *
 * @module
 */

/** One server of a supercluster. */
export interface SuperclusterServer {
  /** Server name, `<cluster>-<n>`, e.g. `"eu-west-1"`. */
  readonly name: string;
  /** Cluster name: the region, or `"witness"`. */
  readonly cluster: string;
  /** The region it serves; `null` for the witness. */
  readonly region: string | null;
  /** Address every port listens on. */
  readonly host: string;
  /** Client port. */
  readonly clientPort: number;
  /** Route port (servers of its cluster). */
  readonly clusterPort: number;
  /** Gateway port (other clusters); 0 when the plan has one cluster. */
  readonly gatewayPort: number;
  /** Monitoring port (HTTP `/varz`, `/jsz`, ...). */
  readonly monitorPort: number;
  /** Server tags: `region:<id>`, or `role:witness`. */
  readonly tags: readonly string[];
}

/** A supercluster's servers. */
export interface SuperclusterPlan {
  /** Region ids, in the order given. */
  readonly regions: readonly string[];
  /** Every server, region by region, the witness last. */
  readonly servers: readonly SuperclusterServer[];
}

/** Options of {@link planSupercluster}. */
export interface PlanSuperclusterOptions {
  /** Servers per region (JetStream replicas are at most this). Default 3. */
  serversPerRegion?: number;
  /** Add a one-server witness cluster. Default: when the number of regions is even. */
  witness?: boolean;
  /** Address the servers listen on. Default `127.0.0.1`. */
  host?: string;
  /** Chooses each port (called four times per server). Default: a free port on `host`. */
  port?: () => number;
}

/** Name of the witness cluster (not a region). */
export const WITNESS_CLUSTER = "witness";

const REGION = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** The server tag that places JetStream assets in `region`. */
export function regionTag(region: string): string {
  return `region:${region}`;
}

/** Lays out a supercluster of `regions` (one cluster each, plus a witness when needed). */
export function planSupercluster(
  regions: readonly string[],
  options: PlanSuperclusterOptions = {},
): SuperclusterPlan {
  if (!Array.isArray(regions) || regions.length === 0) {
    throw new TypeError("Cannot plan a supercluster: no region given");
  }
  const seen = new Set<string>();
  for (const r of regions) {
    if (typeof r !== "string" || !REGION.test(r) || r === WITNESS_CLUSTER) {
      throw new TypeError(
        `Cannot plan a supercluster: region ${JSON.stringify(r)} is not a region id like "eu-west"`,
      );
    }
    if (seen.has(r)) {
      throw new TypeError(`Cannot plan a supercluster: region ${JSON.stringify(r)} is repeated`);
    }
    seen.add(r);
  }
  const perRegion = options.serversPerRegion ?? 3;
  if (!Number.isInteger(perRegion) || perRegion < 1 || perRegion > 9) {
    throw new RangeError(`Cannot plan ${perRegion} servers per region: expected 1-9`);
  }
  const witness = options.witness ?? regions.length % 2 === 0;
  const host = options.host ?? "127.0.0.1";
  // Free ports by default: each held open until the plan is made, so no two are the same.
  const held: Deno.Listener[] = [];
  const port = options.port ?? (() => {
    const listener = Deno.listen({ hostname: host, port: 0 });
    held.push(listener);
    return (listener.addr as Deno.NetAddr).port;
  });
  const multi = regions.length + (witness ? 1 : 0) > 1;
  const server = (cluster: string, region: string | null, n: number): SuperclusterServer => ({
    name: `${cluster}-${n}`,
    cluster,
    region,
    host,
    clientPort: port(),
    clusterPort: port(),
    gatewayPort: multi ? port() : 0,
    monitorPort: port(),
    tags: region === null ? ["role:witness"] : [regionTag(region)],
  });
  const servers: SuperclusterServer[] = [];
  for (const r of regions) {
    for (let n = 1; n <= perRegion; n++) servers.push(server(r, r, n));
  }
  if (witness) servers.push(server(WITNESS_CLUSTER, null, 1));
  for (const l of held) l.close();
  return { regions: [...regions], servers };
}

/** The client URLs of a region's servers (`tls://` or `nats://`). */
export function regionUrls(
  plan: SuperclusterPlan,
  region: string,
  options: { tls?: boolean } = {},
): string[] {
  const scheme = options.tls === false ? "nats" : "tls";
  const urls = plan.servers.filter((s) => s.region === region).map((s) =>
    `${scheme}://${s.host}:${s.clientPort}`
  );
  if (urls.length === 0) {
    throw new RangeError(`Region ${JSON.stringify(region)} is not in the supercluster`);
  }
  return urls;
}

/** TLS files for a server's configuration. */
export interface ServerTlsFiles {
  /** Certificate (full chain). */
  readonly certFile: string;
  /** Its key. */
  readonly keyFile: string;
  /** The CA that signed the other servers' certificates. */
  readonly caFile: string;
}

/** Options of {@link serverConfig}. */
export interface ServerConfigOptions {
  /** JetStream's store folder for this server. */
  storeDir: string;
  /** The authentication part (operator, system account, resolver), as NatsAccounts writes it. */
  auth?: string;
  /** Client TLS; absent serves plain NATS. */
  tls?: ServerTlsFiles;
  /** Mutual TLS between servers (routes and gateways); absent connects them in plain TCP. */
  peerTls?: ServerTlsFiles;
}

function tlsBlock(files: ServerTlsFiles, verify: boolean): string {
  return `tls { cert_file: ${JSON.stringify(files.certFile)}, key_file: ${
    JSON.stringify(files.keyFile)
  }, ca_file: ${JSON.stringify(files.caFile)}, verify: ${verify}, timeout: 5 }`;
}

/** The configuration file of `serverName` in `plan`. */
export function serverConfig(
  plan: SuperclusterPlan,
  serverName: string,
  options: ServerConfigOptions,
): string {
  const me = plan.servers.find((s) => s.name === serverName);
  if (!me) {
    throw new RangeError(`Server ${JSON.stringify(serverName)} is not in the supercluster`);
  }
  const q = JSON.stringify;
  const mates = plan.servers.filter((s) => s.cluster === me.cluster);
  const clusters = [...new Set(plan.servers.map((s) => s.cluster))];
  const lines = [
    `server_name: ${q(me.name)}`,
    `listen: ${q(`${me.host}:${me.clientPort}`)}`,
    `http: ${q(`${me.host}:${me.monitorPort}`)}`,
    `server_tags: ${q(me.tags)}`,
    `jetstream { store_dir: ${q(options.storeDir)} }`,
    "cluster {",
    `  name: ${q(me.cluster)}`,
    `  listen: ${q(`${me.host}:${me.clusterPort}`)}`,
    // Its own URL too: nats-server ignores a route to itself, and counts it when it sizes
    // JetStream's metadata group on first start.
    `  routes: ${q(mates.map((s) => `nats://${s.host}:${s.clusterPort}`))}`,
    ...(options.peerTls ? [`  ${tlsBlock(options.peerTls, true)}`] : []),
    "}",
  ];
  if (clusters.length > 1) {
    lines.push(
      "gateway {",
      `  name: ${q(me.cluster)}`,
      `  listen: ${q(`${me.host}:${me.gatewayPort}`)}`,
      ...(options.peerTls ? [`  ${tlsBlock(options.peerTls, true)}`] : []),
      "  gateways: [",
      ...clusters.filter((c) => c !== me.cluster).map((c) =>
        `    { name: ${q(c)}, urls: ${
          q(
            plan.servers.filter((s) => s.cluster === c).map((s) =>
              `nats://${s.host}:${s.gatewayPort}`
            ),
          )
        } }`
      ),
      "  ]",
      "}",
    );
  }
  if (options.auth) lines.push(options.auth);
  if (options.tls) {
    lines.push(
      `tls { cert_file: ${q(options.tls.certFile)}, key_file: ${
        q(options.tls.keyFile)
      }, timeout: 5 }`,
    );
  }
  return lines.join("\n") + "\n";
}
