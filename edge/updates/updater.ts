/**
 * The device side of a deployment: what the shadow's desired `deployment` asks for is checked
 * (signatures against the pinned keys, platform, dependency ranges against what is installed;
 * all before a byte is downloaded), downloaded with resume and delta transfer, verified, and
 * applied: a model or config version in place, without restarting the agent; an agent version
 * into the inactive A/B slot, switched to on trial, and started by the supervisor, which keeps
 * it only if it reports healthy. A model target in `shadow` mode is installed as the candidate
 * that runs beside the live model (shadow evaluation) instead of replacing it, and one in `stop`
 * mode stops that candidate (the comparison ended). Every step is reported as an
 * `update_progress` event through the outbox, and so is the outcome the supervisor recorded
 * (healthy or rolled back, and why).
 *
 * @example
 * ```ts
 * import { OtaSlots } from "./ota_slots.ts";
 * import { Updater } from "./updater.ts";
 *
 * const updater = new Updater({
 *   slots: await OtaSlots.open("/var/lib/vendstream/ota"),
 *   deviceId: "m001-a", agentVersion: "0.1.0", agentArgs: ["--config", "/etc/vend/agent.json"],
 *   trustedKeys: [], progress: (e) => console.log(e.phase),
 * });
 * console.log(await updater.installed());
 * ```
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  buckets,
  componentKey,
  type ComponentRecipe,
  dependencyProblems,
  semanticVersion,
  SignatureError,
  type TrustedKey,
  UPDATE_PHASES,
  verifySignedManifest,
  type VersionManifest,
} from "../../protocol/mod.ts";
import { ArtifactVerifyError, fetchArtifacts } from "./artifact_fetcher.ts";
import { type ChunkStore, FileChunkStore } from "./chunk_store.ts";
import type { OtaSlots } from "./ota_slots.ts";
import { ModelSlots } from "./model_slots.ts";
import { sleep } from "../../runtime/mod.ts";

/** A step of an update, as reported. */
export interface UpdateStep {
  readonly deploymentId: string;
  readonly component: string;
  readonly version: string;
  readonly phase: (typeof UPDATE_PHASES)[number];
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly bytesSaved: number;
  readonly reason: string | null;
}

/** A deployment as the shadow carries it. */
export interface DeploymentOrder {
  readonly deploymentId: string;
  /**
   * Component versions; a model's `mode` `shadow` runs it beside the live one, `stop` stops it
   * running there (default live).
   */
  readonly targets: readonly {
    readonly component: string;
    readonly version: string;
    readonly mode?: "live" | "shadow" | "stop" | undefined;
  }[];
  /** The stream to read the artifacts from (the region's mirror); default the store's own. */
  readonly artifacts?: string | undefined;
}

/** Options of {@link Updater}. */
export interface UpdaterOptions {
  /** The device's slots and update state. */
  readonly slots: OtaSlots;
  readonly deviceId: string;
  /** Version of the running agent. */
  readonly agentVersion: string;
  /** Arguments the agent is started with (kept for the new slot). */
  readonly agentArgs: readonly string[];
  /** Public keys the device pins. */
  readonly trustedKeys: readonly TrustedKey[];
  /** Where progress goes (the agent's outbox). */
  readonly progress: (step: UpdateStep) => void;
  /**
   * Applies a model or config version in place (a model in `shadow` mode as the candidate beside
   * the live one); throws to refuse it.
   */
  readonly applyHot?: (
    recipe: ComponentRecipe,
    files: Readonly<Record<string, string>>,
    options: { readonly mode: "live" | "shadow" },
  ) => Promise<void>;
  /** Stops the candidate model running beside the live one (a target in `stop` mode). */
  readonly stopCandidate?: () => Promise<void>;
  /** Restarts the agent into the new slot (exits with the switch code). */
  readonly restart?: () => void;
  /** Whether a supervisor runs this agent (agent updates need one). Default true. */
  readonly supervised?: boolean;
  /** The chunk store. Default files in `<slots>/chunks`. */
  readonly chunks?: ChunkStore;
  /** Called before each phase (tests kill the process here). */
  readonly beforePhase?: (phase: string) => void;
  readonly log?: (
    level: "info" | "warn" | "error",
    msg: string,
    f?: Record<string, unknown>,
  ) => void;
}

/** An update was refused or failed; the reason is reported. */
export class UpdateError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UpdateError";
  }
}

const ARCH: Record<string, string> = { x86_64: "x86_64", aarch64: "aarch64" };
const THIS_ARCH = ARCH[Deno.build.arch] ?? Deno.build.arch;
const ARCH_SUFFIX = /-(x86_64|aarch64)(\.[^.]+)?$/;

/**
 * Artifacts named for an architecture (`firmware-aarch64.tar`) go only to devices of it; a
 * version can so carry one agent build per architecture.
 */
function forThisArch(name: string): boolean {
  const m = ARCH_SUFFIX.exec(name);
  return !m || m[1] === THIS_ARCH;
}

/** Carries out deployments on a device. */
export class Updater {
  readonly #o: UpdaterOptions;
  readonly #chunks: ChunkStore;
  /** The models serving and beside it, as applied. */
  readonly models: ModelSlots;
  #busy: Promise<void> | undefined;

  /** Creates the updater. */
  constructor(options: UpdaterOptions) {
    this.#o = options;
    this.#chunks = options.chunks ?? new FileChunkStore(`${options.slots.dir}/chunks`);
    this.models = new ModelSlots(options.slots.dir);
  }

  /** Installed component versions (the agent's own included). */
  async installed(): Promise<Record<string, string>> {
    const file = `${this.#o.slots.dir}/installed.json`;
    let list: Record<string, string> = {};
    try {
      list = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      // Nothing installed yet. Anything else (the file is written aside and renamed, so never
      // half-written) is a real failure.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return { ...list, agent: this.#o.agentVersion };
  }

  /**
   * Waits while this version is on trial (the supervisor decides once it is healthy), then
   * reports the outcome.
   */
  async settleTrial(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && (await this.#o.slots.read()).trial) {
      await sleep(200);
    }
    await this.reportOutcome();
  }

  /** Reports the outcome the supervisor recorded, once. */
  async reportOutcome(): Promise<void> {
    const { slots } = this.#o;
    const state = await slots.read();
    const last = state.last;
    if (!last || last.reported || !last.deploymentId) return;
    this.#o.progress({
      deploymentId: last.deploymentId,
      component: "agent",
      version: last.version,
      phase: last.status === "healthy" ? "healthy" : "rolled_back",
      bytesDone: 0,
      bytesTotal: 0,
      bytesSaved: 0,
      reason: last.reason,
    });
    await this.#recordHandled(last.deploymentId, last.status);
    await slots.update((s) => ({ ...s, last: s.last && { ...s.last, reported: true } }));
  }

  /**
   * Carries out a deployment (once; a repeated order is ignored). Never throws: a refusal or a
   * failed verification is reported as `failed`; a lost connection is retried (the download
   * resumes from the chunks already verified) until `signal` aborts.
   */
  handle(nc: NatsConnection, order: DeploymentOrder, signal?: AbortSignal): Promise<void> {
    const attempt = async () => {
      for (let pause = 1000; !signal?.aborted; pause = Math.min(pause * 2, 60_000)) {
        try {
          return await this.#handle(nc, order, signal);
        } catch (e) {
          this.#o.log?.("warn", "update interrupted; it resumes", {
            deploymentId: order.deploymentId,
            error: (e as Error).message,
          });
          await sleep(pause, signal ? { signal } : {});
        }
      }
    };
    const run = (this.#busy ?? Promise.resolve()).then(attempt);
    // The next order waits for this one, failed or not; its failure goes to this caller.
    this.#busy = run.catch(() => {/* reported through `run` */});
    return run;
  }

  async #handled(): Promise<{ deploymentId: string; status: string } | undefined> {
    try {
      return JSON.parse(await Deno.readTextFile(`${this.#o.slots.dir}/handled.json`));
    } catch (e) {
      // No order handled yet. Anything else fails this attempt (handle() logs and retries).
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async #recordHandled(deploymentId: string, status: string): Promise<void> {
    const tmp = `${this.#o.slots.dir}/handled.json.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify({ deploymentId, status }));
    await Deno.rename(tmp, `${this.#o.slots.dir}/handled.json`);
  }

  async #handle(nc: NatsConnection, order: DeploymentOrder, signal?: AbortSignal): Promise<void> {
    // An outcome the supervisor recorded (e.g. a rollback) is reported before anything else, so
    // the order that caused it is known as handled and not carried out again.
    await this.reportOutcome();
    const done = await this.#handled();
    if (done?.deploymentId === order.deploymentId) return;
    const state = await this.#o.slots.read();
    if (state.trial?.deploymentId === order.deploymentId) return; // on trial: the supervisor decides
    const step = (
      component: string,
      version: string,
      phase: UpdateStep["phase"],
      more: Partial<Pick<UpdateStep, "bytesDone" | "bytesTotal" | "bytesSaved" | "reason">> = {},
    ) =>
      this.#o.progress({
        deploymentId: order.deploymentId,
        component,
        version,
        phase,
        bytesDone: more.bytesDone ?? 0,
        bytesTotal: more.bytesTotal ?? 0,
        bytesSaved: more.bytesSaved ?? 0,
        reason: more.reason ?? null,
      });
    const first = order.targets[0]!;
    try {
      const manifests = await this.#check(nc, order);
      const installed = await this.installed();
      const { candidate } = await this.models.read();
      const modes = new Map(order.targets.map((t) => [t.component, t.mode ?? "live"]));
      // Model and config versions first (in place), the agent last (it restarts).
      const ordered = [...manifests].sort((a, b) =>
        Number(a.manifest.recipe.kind === "agent") - Number(b.manifest.recipe.kind === "agent")
      );
      for (const { manifest, signed } of ordered) {
        const r = manifest.recipe;
        const mode = modes.get(r.component) ?? "live";
        if (mode !== "live" && r.kind !== "model") {
          throw new UpdateError(`${r.component} ${r.version}: only a model runs in ${mode} mode`);
        }
        if (mode === "stop") {
          // Nothing to download: the candidate, if it is this version, stops running.
          const running = candidate?.component === r.component && candidate.version === r.version;
          if (running) {
            await this.#o.stopCandidate?.();
            await this.models.setCandidate(undefined);
          }
          step(r.component, r.version, "healthy", {
            reason: running ? "candidate stopped" : "not running as a candidate",
          });
          continue;
        }
        const had = mode === "shadow"
          ? candidate?.component === r.component && candidate.version === r.version
          : installed[r.component] === r.version;
        if (had) {
          step(r.component, r.version, "healthy", { reason: "already installed" });
          continue;
        }
        this.#o.beforePhase?.("download");
        step(r.component, r.version, "downloading");
        const staging = `${this.#o.slots.dir}/staging/${r.component}-${r.version}`;
        let last = 0;
        const got = await fetchArtifacts(nc, signed, {
          trustedKeys: this.#o.trustedKeys,
          chunks: this.#chunks,
          select: forThisArch,
          outDir: staging,
          ...(this.#o.log ? { log: this.#o.log } : {}),
          ...(order.artifacts ? { stream: order.artifacts } : {}),
          ...(signal ? { signal } : {}),
          onProgress: (p) => {
            // About every 10% (and the end), not every chunk.
            if (p.bytesDone === p.bytesTotal || p.bytesDone - last >= p.bytesTotal / 10) {
              last = p.bytesDone;
              step(r.component, r.version, "downloading", p);
            }
          },
        });
        this.#o.beforePhase?.("verify");
        step(r.component, r.version, "verifying", got);
        if (r.kind === "agent") {
          await this.#installAgent(r, got.files, order.deploymentId, step, got);
          return; // the restart carries on; the outcome is reported by the new (or old) agent
        }
        this.#o.beforePhase?.("install");
        step(r.component, r.version, "installing", got);
        await this.#installHot(r, { staging, names: Object.keys(got.files), mode });
        step(r.component, r.version, "healthy", got);
      }
      await this.#recordHandled(order.deploymentId, "healthy");
    } catch (e) {
      // Only a verdict is final; anything else (the connection) is retried by handle().
      if (
        !(e instanceof UpdateError || e instanceof SignatureError ||
          e instanceof ArtifactVerifyError)
      ) {
        throw e;
      }
      const reason = (e as Error).message.slice(0, 500);
      this.#o.log?.("error", "update failed", { deploymentId: order.deploymentId, reason });
      step(first.component, first.version, "failed", { reason });
      await this.#recordHandled(order.deploymentId, "failed");
    }
  }

  /** Moves a model or config version into place and applies it (live, or as the candidate). */
  async #installHot(
    r: ComponentRecipe,
    to: { staging: string; names: readonly string[]; mode: "live" | "shadow" },
  ): Promise<void> {
    const { staging, names, mode } = to;
    const dir = `${this.#o.slots.dir}/components/${r.component}/${r.version}`;
    // Not there unless an earlier attempt installed it; a folder that cannot be removed
    // fails the attempt (it would be installed over).
    await Deno.remove(dir, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    await Deno.mkdir(`${this.#o.slots.dir}/components/${r.component}`, { recursive: true });
    await Deno.rename(staging, dir);
    const files = Object.fromEntries(
      names.map((name) => [name, `${dir}/${name}`]),
    );
    try {
      await this.#o.applyHot?.(r, files, { mode });
    } catch (e) {
      throw new UpdateError(
        `${r.component} ${r.version} was refused: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    if (r.kind === "model") {
      const model = { component: r.component, version: r.version, dir };
      await (mode === "shadow" ? this.models.setCandidate(model) : this.models.setLive(model));
    }
    if (mode === "live") await this.#setInstalled(r.component, r.version);
  }

  /** Everything that can be checked before downloading: signatures, platform, dependencies. */
  async #check(nc: NatsConnection, order: DeploymentOrder) {
    // Direct gets name the key in the subject (what the device's permissions allow).
    const kv = await new Kvm(jetstream(nc, { checkAPI: false })).open(buckets.components, {
      allow_direct: true,
    });
    const out: Array<{ manifest: VersionManifest; signed: Uint8Array }> = [];
    for (const t of order.targets) {
      if (!semanticVersion.safeParse(t.version).success) {
        throw new UpdateError(`${t.component} ${t.version} is not a semantic version`);
      }
      const e = await kv.get(componentKey(t.component, t.version));
      if (!e || e.operation !== "PUT") {
        throw new UpdateError(`${t.component} ${t.version} is not published`);
      }
      const manifest = await verifySignedManifest(e.value, this.#o.trustedKeys);
      const r = manifest.recipe;
      if (r.component !== t.component || r.version !== t.version) {
        throw new UpdateError(
          `${t.component} ${t.version}: the manifest is for ${r.component} ${r.version}`,
        );
      }
      if (!(r.platform.arch as string[]).includes(THIS_ARCH)) {
        throw new UpdateError(`${r.component} ${r.version} is not built for ${THIS_ARCH}`);
      }
      const min = r.platform.minAgentVersion;
      if (
        min &&
        dependencyProblems([{
            component: "x",
            version: "0.0.0",
            dependencies: { agent: `>=${min}` },
          }], { agent: this.#o.agentVersion }).length > 0
      ) {
        throw new UpdateError(
          `${r.component} ${r.version} needs agent ${min} or newer, this is ${this.#o.agentVersion}`,
        );
      }
      if (r.kind === "agent" && this.#o.supervised === false) {
        throw new UpdateError(
          "agent updates need the supervisor (vend-supervisor), which is not running",
        );
      }
      out.push({ manifest, signed: e.value });
    }
    const problems = dependencyProblems(out.map((m) => m.manifest.recipe), await this.installed());
    if (problems.length > 0) {
      throw new UpdateError(
        `Dependencies conflict: ${problems.map((p) => `${p.component} ${p.reason}`).join("; ")}`,
      );
    }
    return out;
  }

  async #installAgent(
    r: ComponentRecipe,
    files: Readonly<Record<string, string>>,
    deploymentId: string,
    step: (c: string, v: string, p: UpdateStep["phase"], m?: Partial<UpdateStep>) => void,
    got: { bytesDone: number; bytesTotal: number; bytesSaved: number },
  ): Promise<void> {
    const tar = files[`firmware-${THIS_ARCH}.tar`] ?? files["firmware.tar"];
    if (!tar) {
      throw new UpdateError(
        `${r.component} ${r.version} has no firmware-${THIS_ARCH}.tar or firmware.tar artifact`,
      );
    }
    this.#o.beforePhase?.("install");
    step(r.component, r.version, "installing", got);
    const { dir } = await this.#o.slots.prepareInactive();
    const out = await new Deno.Command("tar", { args: ["-xf", tar, "-C", dir], stderr: "piped" })
      .output();
    if (!out.success) {
      throw new UpdateError(
        `Cannot unpack firmware.tar: ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
    try {
      await Deno.stat(`${dir}/vend-edge`);
    } catch (e) {
      // Not in the archive: the version is refused. A stat that fails otherwise is retried.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new UpdateError(`${r.component} ${r.version}'s firmware.tar has no vend-edge program`, {
        cause: e,
      });
    }
    this.#o.beforePhase?.("switch");
    step(r.component, r.version, "switching", got);
    await this.#o.slots.switchTo(
      { version: r.version, command: "vend-edge", args: [...this.#o.agentArgs] },
      { deploymentId, maxBoots: r.lifecycle.maxBoots, healthWindowMs: r.lifecycle.healthWindowMs },
    );
    step(r.component, r.version, "health_check", got);
    this.#o.log?.("info", "switching to the new agent version", { version: r.version });
    this.#o.restart?.();
  }

  async #setInstalled(component: string, version: string): Promise<void> {
    const file = `${this.#o.slots.dir}/installed.json`;
    let list: Record<string, string> = {};
    try {
      list = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      // The first component installed. Anything else must not overwrite what is installed.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    list[component] = version;
    await Deno.writeTextFile(`${file}.tmp`, JSON.stringify(list));
    await Deno.rename(`${file}.tmp`, file);
  }
}
