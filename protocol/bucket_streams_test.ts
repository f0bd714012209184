import assert from "node:assert/strict";
import { buckets } from "./subjects.ts";
import { bucketIn, mirrorOf } from "./regional_buckets.ts";
import { kvStreamOf, objectStreamOf } from "./bucket_streams.ts";

Deno.test("kvStreamOf and objectStreamOf name the stream NATS keeps a bucket in", () => {
  assert.equal(kvStreamOf(bucketIn(buckets.shadow, "eu-west")), "KV_shadow_eu-west");
  assert.equal(kvStreamOf(buckets.components), "KV_components");
  assert.equal(objectStreamOf(buckets.artifacts), "OBJ_artifacts");
  assert.equal(
    objectStreamOf(mirrorOf(buckets.artifacts, "us-east")),
    "OBJ_artifacts_mirror_us-east",
  );
});

Deno.test("kvStreamOf refuses a bucket with a dot or a wildcard", () => {
  for (const bucket of ["shadow.eu", "*", ">", "", "a b"]) {
    assert.throws(() => kvStreamOf(bucket), TypeError, JSON.stringify(bucket));
  }
});

Deno.test("objectStreamOf refuses a bucket that is not a string", () => {
  assert.throws(
    () => objectStreamOf(undefined as unknown as string),
    /an object store: bucket undefined/,
  );
  assert.throws(() => objectStreamOf("clips.>"), /bucket "clips\.>"/);
});
