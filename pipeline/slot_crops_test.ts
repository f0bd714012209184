import assert from "node:assert/strict";
import { loadWasmKernels, referenceKernels } from "../wasm/mod.ts";
import { slotCrops } from "./slot_crops.ts";

const spec = { size: 8, mean: [0.5, 0.5, 0.5] as const, std: [0.25, 0.25, 0.25] as const };

function image(width: number, height: number) {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      // Left half red, right half blue.
      data[i] = x < width / 2 ? 255 : 0;
      data[i + 2] = x < width / 2 ? 0 : 255;
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

Deno.test("slotCrops cuts each region into its own normalised NCHW tile", () => {
  const img = image(64, 32);
  const out = slotCrops(img, [{ x0: 0, y0: 0, x1: 0.5, y1: 1 }, { x0: 0.5, y0: 0, x1: 1, y1: 1 }], {
    ...spec,
    kernels: referenceKernels,
  });
  assert.equal(out.length, 2 * 3 * 64);
  const red = (255 / 255 - 0.5) / 0.25;
  const none = (0 - 0.5) / 0.25;
  assert.equal(out[0], red, "crop 0, R plane");
  assert.equal(out[2 * 64 + 10], none, "crop 0, B plane");
  assert.equal(out[3 * 64 + 0], none, "crop 1, R plane");
  assert.equal(out[3 * 64 + 2 * 64 + 10], red, "crop 1, B plane");
});

Deno.test("slotCrops gives the same floats with the WASM kernels as with the reference", async () => {
  const wasm = await loadWasmKernels();
  const img = image(97, 61);
  const regions = [{ x0: 0.1, y0: 0.2, x1: 0.63, y1: 0.9 }, { x0: 0.4, y0: 0, x1: 1, y1: 0.3 }];
  assert.deepEqual(
    slotCrops(img, regions, { ...spec, kernels: wasm }),
    slotCrops(img, regions, { ...spec, kernels: referenceKernels }),
  );
});

Deno.test("slotCrops refuses an empty region and a wrong-sized batch buffer", () => {
  const img = image(16, 16);
  assert.throws(
    () =>
      slotCrops(img, [{ x0: 0.5, y0: 0.5, x1: 0.5, y1: 0.9 }], {
        ...spec,
        kernels: referenceKernels,
      }),
    /Region 0 .* is empty in a 16x16 picture/,
  );
  assert.throws(
    () =>
      slotCrops(img, [{ x0: 0, y0: 0, x1: 1, y1: 1 }], {
        ...spec,
        kernels: referenceKernels,
        into: new Float32Array(5),
      }),
    /holds 5 floats, expected 192/,
  );
});
