import assert from "node:assert/strict";
import { pathExists } from "./path_exists.ts";

Deno.test("pathExists tells a file that is there from one that is not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a`, "x");
    assert.equal(await pathExists(`${dir}/a`), true);
    assert.equal(await pathExists(dir), true);
    assert.equal(await pathExists(`${dir}/b`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pathExists rejects when the stat fails otherwise than not found", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "x");
    // A path through a file is not a folder: ENOTDIR, not NotFound.
    await assert.rejects(
      pathExists(`${dir}/file/inside`),
      (e) => !(e instanceof Deno.errors.NotFound),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
