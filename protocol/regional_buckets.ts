/**
 * Which buckets belong to one region and how they are named there. A device's current state
 * and its sessions live in its home region: each region keeps its own copy of a regional bucket,
 * named `<bucket>_<region>` (e.g. `status_eu-west`). The other buckets form the global registry:
 * one original, in the primary region, and a read-only mirror in each other region,
 * `<bucket>_mirror_<region>`.
 *
 * @example
 * ```ts
 * import { buckets } from "./subjects.ts";
 * import { bucketIn, isRegionalBucket } from "./regional_buckets.ts";
 *
 * isRegionalBucket(buckets.status); // true
 * bucketIn(buckets.status, "eu-west"); // "status_eu-west"
 * bucketIn(buckets.registry, "eu-west"); // "registry" (global)
 * ```
 *
 * @module
 */
import { buckets } from "./subjects.ts";

const REGION = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** The buckets each region has its own of. */
export const REGIONAL_BUCKETS: ReadonlySet<string> = new Set<string>([
  buckets.status,
  buckets.commands,
  buckets.alerts,
  buckets.shadow,
  buckets.clips,
  buckets.snapshots,
  buckets.paymentSessions,
  buckets.paymentHolds,
  buckets.paymentReview,
  buckets.customerSessions,
  buckets.customerCodes,
  buckets.ledger,
  buckets.paymentSandbox,
  buckets.fieldAccuracy,
  buckets.fieldSamples,
]);

/** True when each region has its own `bucket`. */
export function isRegionalBucket(bucket: string): boolean {
  return REGIONAL_BUCKETS.has(bucket);
}

function checkRegion(region: string): string {
  if (typeof region !== "string" || !REGION.test(region)) {
    throw new TypeError(`Cannot name a bucket for region ${JSON.stringify(region)}`);
  }
  return region;
}

/** The name of `bucket` in `region`: `<bucket>_<region>` when regional, else the global name. */
export function bucketIn(bucket: string, region: string): string {
  checkRegion(region);
  return isRegionalBucket(bucket) ? `${bucket}_${region}` : bucket;
}

/** The name of the mirror of global `bucket` kept in `region`. */
export function mirrorOf(bucket: string, region: string): string {
  checkRegion(region);
  if (isRegionalBucket(bucket)) {
    throw new TypeError(`Bucket "${bucket}" is regional: it has no mirror`);
  }
  return `${bucket}_mirror_${region}`;
}
