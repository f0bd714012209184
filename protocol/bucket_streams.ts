/**
 * The JetStream stream behind each bucket: NATS keeps a KV bucket `<b>` in stream `KV_<b>` and an
 * object store `<b>` in stream `OBJ_<b>`. Clients address these streams by name for direct gets,
 * mirrors and permissions, so the names are spelled here, once.
 *
 * @example
 * ```ts
 * import { buckets } from "./subjects.ts";
 * import { bucketIn } from "./regional_buckets.ts";
 * import { kvStreamOf, objectStreamOf } from "./bucket_streams.ts";
 *
 * kvStreamOf(bucketIn(buckets.shadow, "eu-west")); // "KV_shadow_eu-west"
 * objectStreamOf(buckets.artifacts); // "OBJ_artifacts"
 * ```
 *
 * @module
 */

/** A bucket name as NATS accepts it (KV and object store alike). */
const BUCKET = /^[-\w]+$/;

function checkBucket(what: string, bucket: string): string {
  if (typeof bucket !== "string" || !BUCKET.test(bucket)) {
    throw new TypeError(
      `Cannot name the stream of ${what}: bucket ${
        JSON.stringify(bucket)
      } does not match ${BUCKET}`,
    );
  }
  return bucket;
}

/** The stream that holds KV bucket `bucket` (its full, regional or mirror, name): `KV_<bucket>`. */
export function kvStreamOf(bucket: string): string {
  return `KV_${checkBucket("a KV bucket", bucket)}`;
}

/** The stream that holds object store `bucket` (its full name): `OBJ_<bucket>`. */
export function objectStreamOf(bucket: string): string {
  return `OBJ_${checkBucket("an object store", bucket)}`;
}
