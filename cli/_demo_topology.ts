/**
 * The demo's servers and what its steps share: one region on the single local server (or
 * `NATS_URL`), or several on a supercluster on loopback; the API's TLS; the child processes.
 *
 * @module
 */
import {
  ensurePrivateCa,
  issueServerCertificate,
  type TlsFiles,
} from "../cloud/provisioning/mod.ts";
import {
  defaultDataDir,
  type LocalSupercluster,
  type NatsEndpoint,
  startLocalSupercluster,
} from "../cloud/dev/mod.ts";
import { ChildProcesses } from "./_demo_processes.ts";

/** What the demo's steps share once its servers are up. */
export interface DemoContext {
  /** The regions' ids, the first one's API the main one. */
  readonly regions: string[];
  /** The NATS the cloud and the tools use (the first region's, with several). */
  readonly nats: NatsEndpoint;
  /** The supercluster, with several regions. */
  readonly supercluster: LocalSupercluster | undefined;
  /** The servers of each region (a region's devices fail over to the others'). */
  readonly regionUrl: (region: string) => string;
  /** The API's certificate, when NATS serves TLS with the private CA. */
  readonly apiTls: TlsFiles | undefined;
  /** An HTTP client trusting the private CA, when there is one. */
  readonly client: Deno.HttpClient | undefined;
  /** The child processes started so far, all stopped at the end. */
  readonly children: ChildProcesses;
  /** Aborts on Ctrl-C or SIGTERM. */
  readonly shutdown: AbortSignal;
}

/** Removes folder `path` and what it holds; one that is not there is fine. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Starts a supercluster for `regions` on loopback: 3 servers per region (configs generated into
 * the data folder), a witness when even. The last run's is removed first.
 */
export async function startSupercluster(
  regions: string[],
  shutdown: AbortSignal,
): Promise<LocalSupercluster> {
  const dataDir = `${defaultDataDir()}/regions`;
  await removeIfPresent(`${dataDir}/supercluster`); // the last run's, if any
  return await startLocalSupercluster({ dataDir, regions, signal: shutdown });
}

/** The supercluster seen as one endpoint: the first region's servers; stopping it is separate. */
export function superclusterEndpoint(
  supercluster: LocalSupercluster,
  firstRegion: string | undefined,
): NatsEndpoint {
  return {
    url: supercluster.url(firstRegion),
    local: true,
    credentialsFile: supercluster.credentialsFile!,
    caFile: supercluster.caFile!,
    accounts: supercluster.accounts!,
    stop: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

/**
 * The API's TLS: a certificate from the private CA that signed the server's (none when the
 * server has no accounts), and an HTTP client that trusts that CA (none without one).
 */
export async function apiTlsFor(
  nats: NatsEndpoint,
): Promise<{ apiTls: TlsFiles | undefined; client: Deno.HttpClient | undefined }> {
  const apiTls = nats.accounts && nats.caFile
    ? await issueServerCertificate(
      await ensurePrivateCa(nats.accounts.dir),
      `${nats.accounts.dir}/tls`,
      { name: "api" },
    )
    : undefined;
  const client = nats.caFile
    ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(nats.caFile)] })
    : undefined;
  return { apiTls, client };
}

/**
 * The context of a fleet on one local server (region `local`), as the live evaluation and the
 * benchmarks run it: the API's TLS made from the server's CA, a fresh set of child processes.
 */
export async function singleRegionContext(
  nats: NatsEndpoint,
  shutdown: AbortSignal,
): Promise<DemoContext> {
  const { apiTls, client } = await apiTlsFor(nats);
  return {
    regions: ["local"],
    nats,
    supercluster: undefined,
    regionUrl: () => nats.url,
    apiTls,
    client,
    children: new ChildProcesses(),
    shutdown,
  };
}
