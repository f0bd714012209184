/**
 * The judge of shadow deployments: every so often each deployment whose model runs in shadow
 * mode is scored (by whoever keeps the reviewed sessions: the field dataset, behind
 * {@link ShadowScorer}); a verdict of `promote` or `stop` is carried out through the rollout
 * ({@link DeploymentService.conclude}), one still `collecting` waits for more reviews.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { DeploymentService } from "./deployments.ts";
 * import { judgeShadows } from "./shadow_judge.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const deployments = await DeploymentService.open(nc, { region: "local", devices: () => [] });
 * const concluded = await judgeShadows(deployments, {
 *   score: async () => ({ verdict: { state: "collecting", reason: "no reviews yet" } }),
 * });
 * console.log(concluded.length);
 * ```
 *
 * @module
 */
import type { Logger } from "../../runtime/mod.ts";
import { sleep } from "../../runtime/mod.ts";
import type { Deployment } from "./deployment_model.ts";
import type { DeploymentService } from "./deployments.ts";

/** Scores a shadow deployment's candidate against the live model on its devices' sessions. */
export type ShadowScorer = (query: {
  /** The candidate model's version. */
  readonly candidate: string;
  /** The deployment's devices. */
  readonly deviceIds: ReadonlySet<string>;
  /** Sessions from the deployment's creation on, Unix ms. */
  readonly since: number;
  /** Reviewed sessions needed for a verdict. */
  readonly minReviewed: number;
}) => Promise<{
  readonly verdict: { readonly state: "collecting" | "promote" | "stop"; readonly reason: string };
}>;

/** Options of {@link judgeShadows} and {@link runShadowJudge}. */
export interface ShadowJudgeOptions {
  /** Scores a candidate. */
  readonly score: ShadowScorer;
  /** Where verdicts and failures are logged. */
  readonly logger?: Logger | undefined;
}

/**
 * One round: scores every shadow deployment still comparing and carries out the verdicts that
 * came; returns the deployments concluded. A deployment that fails to be scored or concluded is
 * logged and tried again next round.
 */
export async function judgeShadows(
  deployments: DeploymentService,
  options: ShadowJudgeOptions,
): Promise<Deployment[]> {
  const out: Deployment[] = [];
  for (const d of await deployments.comparing()) {
    const target = d.targets.find((t) => t.mode === "shadow");
    if (!target || !d.promotion) continue;
    try {
      const { verdict } = await options.score({
        candidate: target.version,
        deviceIds: new Set(d.devices),
        since: d.createdAt,
        minReviewed: d.promotion.minReviewed,
      });
      if (verdict.state === "collecting") continue;
      const done = await deployments.conclude(d.id, {
        state: verdict.state,
        reason: verdict.reason,
      });
      options.logger?.log("info", `shadow candidate ${done.promotion?.state}`, {
        deployment: d.id,
        candidate: `${target.component} ${target.version}`,
        reason: verdict.reason,
        followUp: done.promotion?.followUp ?? null,
      });
      out.push(done);
    } catch (err) {
      options.logger?.log("warn", "judging a shadow deployment failed; tried again next round", {
        deployment: d.id,
        error: String(err),
      });
    }
  }
  return out;
}

/** Judges the shadow deployments every `everyMs` (default 5 s) until `signal` aborts. */
export async function runShadowJudge(
  deployments: DeploymentService,
  signal: AbortSignal,
  options: ShadowJudgeOptions & { readonly everyMs?: number },
): Promise<void> {
  while (!signal.aborted) {
    await judgeShadows(deployments, options).catch((err) =>
      options.logger?.log("warn", "a shadow judging round failed", { error: String(err) })
    );
    await sleep(options.everyMs ?? 5000, { signal });
  }
}
