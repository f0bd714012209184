import assert from "node:assert/strict";
import type { VersionManifest } from "./component.ts";
import {
  generateSigningKey,
  importSigningKey,
  SignatureError,
  signManifest,
  verifySignedManifest,
} from "./signed_manifest.ts";
import fixtures from "./testdata/component_recipe.json" with { type: "json" };
import { componentRecipe } from "./component.ts";

const recipe = componentRecipe.parse(JSON.stringify(fixtures[1])).ok
  ? (componentRecipe.parse(JSON.stringify(fixtures[1])) as { value: VersionManifest["recipe"] })
    .value
  : undefined;
const manifest: VersionManifest = {
  v: 1,
  recipe: recipe!,
  artifacts: [{
    name: "model.onnx",
    bytes: 3,
    sha256: "c".repeat(64),
    chunks: [{ sha256: "d".repeat(64), bytes: 3 }],
  }],
  createdAt: 1_700_000_000_000,
};

Deno.test("verifySignedManifest accepts a manifest signed by a pinned key", async () => {
  const key = await generateSigningKey();
  const signed = await signManifest(manifest, key);
  assert.deepEqual(await verifySignedManifest(JSON.stringify(signed), [key.trusted]), manifest);
  // A key restored from its JWK signs the same way (the cloud keeps keys as JWKs).
  const again = await importSigningKey(key.privateJwk);
  assert.equal(again.keyId, key.keyId);
  const s2 = await signManifest(manifest, again);
  assert.deepEqual(await verifySignedManifest(JSON.stringify(s2), [key.trusted]), manifest);
});

Deno.test("verifySignedManifest refuses unsigned, unknown-key, tampered and re-signed manifests", async () => {
  const key = await generateSigningKey();
  const other = await generateSigningKey();
  const signed = await signManifest(manifest, key);
  const refuse = (input: string, keys = [key.trusted], why: RegExp) =>
    assert.rejects(
      () => verifySignedManifest(input, keys),
      (e) => e instanceof SignatureError && why.test(e.message),
    );
  await refuse(
    JSON.stringify({ manifest: signed.manifest }),
    undefined,
    /unsigned or malformed.*keyId/,
  );
  await refuse(JSON.stringify(manifest), undefined, /unsigned or malformed/);
  await refuse(JSON.stringify(signed), [other.trusted], /unknown key/);
  const tampered = signed.manifest.replace('"bytes":3', '"bytes":4');
  assert.notEqual(tampered, signed.manifest);
  await refuse(JSON.stringify({ ...signed, manifest: tampered }), undefined, /does not match/);
  // The other key's signature under this key's id.
  const forged = await signManifest(manifest, { ...other, keyId: key.keyId });
  await refuse(JSON.stringify(forged), undefined, /does not match/);
  // Rotation: both keys pinned, either signs.
  const rotated = await signManifest(manifest, other);
  assert.ok(await verifySignedManifest(JSON.stringify(rotated), [key.trusted, other.trusted]));
});
