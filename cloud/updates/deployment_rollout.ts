/**
 * The rollout policy's arithmetic, pure: a policy's defaults and ranges, when a deployment's
 * failures pass its threshold, and which devices one step starts (the canaries first, alone;
 * then a rate per minute growing by a factor each whole minute since the canaries finished).
 *
 * @example
 * ```ts
 * import { rolloutPolicy } from "./deployment_rollout.ts";
 *
 * console.log(rolloutPolicy({ canary: 2 })); // { canary: 2, ratePerMinute: 10, growth: 2, ... }
 * ```
 *
 * @module
 */
import { ComponentError } from "./component_registry.ts";
import { allFinal, type DeviceStatuses } from "./deployment_counts.ts";
import type { Deployment, DeploymentCounts, RolloutPolicy } from "./deployment_model.ts";

/**
 * The policy `partial` asks for, over the defaults. Refused with {@link ComponentError} naming
 * the field when a value is out of range.
 */
export function rolloutPolicy(partial: Partial<RolloutPolicy> | undefined): RolloutPolicy {
  const policy: RolloutPolicy = {
    canary: partial?.canary ?? 1,
    ratePerMinute: partial?.ratePerMinute ?? 10,
    growth: partial?.growth ?? 2,
    failureThreshold: partial?.failureThreshold ?? 0.1,
  };
  const checks: Array<[keyof RolloutPolicy, number, number, boolean]> = [
    ["canary", 0, 1000, true],
    ["ratePerMinute", 1, 1_000_000, false],
    ["growth", 1, 100, false],
    ["failureThreshold", 0, 1, false],
  ];
  for (const [k, lo, hi, int] of checks) {
    const v = policy[k];
    if (typeof v !== "number" || !(v >= lo && v <= hi) || (int && !Number.isInteger(v))) {
      throw new ComponentError(`policy.${k}`, `policy.${k} must be ${lo}-${hi}, got ${v}`);
    }
  }
  return policy;
}

/**
 * Why a deployment with these counts aborts (its failed share of the finished devices is past
 * the threshold), or null while it may go on.
 */
export function failureReason(counts: DeploymentCounts, policy: RolloutPolicy): string | null {
  const finished = counts.healthy + counts.failed + counts.rolled_back;
  const bad = counts.failed + counts.rolled_back;
  if (finished > 0 && bad / finished > policy.failureThreshold && bad > 0) {
    return `${bad} of ${finished} devices failed (threshold ${policy.failureThreshold})`;
  }
  return null;
}

/** What {@link rolloutStep} is given besides the deployment. */
export interface RolloutStepOptions {
  /** Unix ms. */
  readonly now: number;
  /** The devices this instance starts, in order: all, or (in a supercluster) its region's. */
  readonly list: readonly string[];
  /** The deployment's device statuses, as the view holds them. */
  readonly statuses: DeviceStatuses | undefined;
  /** In a supercluster, the region whose devices this instance starts (its own). */
  readonly region?: string | undefined;
}

/** One step of a running deployment: the devices to start now, and the deployment after it. */
export interface RolloutStep {
  /** Devices to start, in order (after the updated deployment is stored: that claims them). */
  readonly next: readonly string[];
  readonly updated: Deployment;
}

/** Which devices of `d` the policy allows to start by `options.now`, and what that makes of `d`. */
export function rolloutStep(d: Deployment, options: RolloutStepOptions): RolloutStep {
  const { now, list, statuses, region } = options;
  const regional = region !== undefined;
  const started = regional ? d.assignedIn?.[region] ?? 0 : d.assigned;
  let canaryDoneAt = regional ? d.canaryDoneAtIn?.[region] ?? null : d.canaryDoneAt;
  const canaries = Math.min(d.policy.canary, list.length);
  if (canaryDoneAt === null) {
    const done = allFinal(statuses, list, { n: canaries });
    if (started >= canaries && done) canaryDoneAt = now;
  }
  let allowed: number;
  if (canaryDoneAt === null) allowed = canaries;
  else {
    // Devices allowed by now: the rate, growing by `growth` each whole minute since the canaries.
    const minutes = (now - canaryDoneAt) / 60_000;
    let total = 0;
    let rate = d.policy.ratePerMinute;
    for (let m = 0; m < Math.floor(minutes); m++, rate *= d.policy.growth) total += rate;
    total += rate * (minutes - Math.floor(minutes));
    allowed = canaries + Math.max(1, Math.floor(total));
  }
  allowed = Math.min(allowed, list.length);
  const next = list.slice(started, allowed);
  const byRegion = regional
    ? {
      assignedIn: { ...d.assignedIn, [region]: started + next.length },
      canaryDoneAtIn: { ...d.canaryDoneAtIn, [region]: canaryDoneAt },
    }
    : undefined;
  const assigned = byRegion
    ? Object.values(byRegion.assignedIn).reduce((a, b) => a + b, 0)
    : d.assigned + next.length;
  const allDone = assigned === d.devices.length && allFinal(statuses, d.devices, { n: assigned });
  const updated: Deployment = {
    ...d,
    assigned,
    ...(byRegion ?? { canaryDoneAt }),
    state: allDone ? "completed" : d.state,
  };
  return { next, updated };
}
