import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { buildSlotModel, conv2dFilterGradient } from "./slot_model.ts";
import { startTfjsWasm } from "./tfjs_backend.ts";

/** The filter gradient by the definition, in float64. */
function naiveFilterGradient(
  x: Float32Array,
  dy: Float32Array,
  [n, h, w, cin]: [number, number, number, number],
  [kh, kw, cout]: [number, number, number],
): Float64Array {
  const out = new Float64Array(kh * kw * cin * cout);
  const top = Math.floor((kh - 1) / 2), left = Math.floor((kw - 1) / 2);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const sy = y + i - top, sx = xx + j - left;
            if (sy < 0 || sx < 0 || sy >= h || sx >= w) continue;
            for (let c = 0; c < cin; c++) {
              const xv = x[((b * h + sy) * w + sx) * cin + c]!;
              for (let o = 0; o < cout; o++) {
                out[((i * kw + j) * cin + c) * cout + o]! += xv *
                  dy[((b * h + y) * w + xx) * cout + o]!;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

Deno.test("conv2dFilterGradient matches the definition on the WASM backend", async () => {
  await startTfjsWasm();
  const shape: [number, number, number, number] = [2, 5, 6, 3];
  const xs = Float32Array.from({ length: 2 * 5 * 6 * 3 }, (_, i) => Math.sin(i * 0.37));
  const dys = Float32Array.from({ length: 2 * 5 * 6 * 4 }, (_, i) => Math.cos(i * 0.11));
  const got = conv2dFilterGradient(
    tf.tensor4d(xs, shape),
    tf.tensor4d(dys, [2, 5, 6, 4]),
    [3, 3, 3, 4],
    "same",
  );
  const want = naiveFilterGradient(xs, dys, shape, [3, 3, 4]);
  const values = await got.data();
  let worst = 0;
  want.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - values[i]!))));
  assert.ok(worst < 1e-4, `worst difference ${worst}`);
});

Deno.test("the slot model trains on the WASM backend (its loss falls)", async () => {
  await startTfjsWasm();
  const model = buildSlotModel({ size: 8, skuClasses: 3, seed: 7, filters: [4, 4, 4], hidden: 8 });
  model.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy" });
  // Bright crops are SKU 1 with 2 units; dark ones SKU 2 with 0 units.
  const n = 32;
  const x = tf.tidy(() => tf.concat([tf.fill([n / 2, 8, 8, 3], 1), tf.fill([n / 2, 8, 8, 3], -1)]));
  const sku = tf.oneHot(
    tf.tensor1d([...Array(n / 2).fill(1), ...Array(n / 2).fill(2)], "int32"),
    3,
  );
  const count = tf.oneHot(
    tf.tensor1d([...Array(n / 2).fill(2), ...Array(n / 2).fill(0)], "int32"),
    5,
  );
  const hand = tf.oneHot(tf.tensor1d(Array(n).fill(0), "int32"), 4);
  const h = await model.fit(x, [sku, count, hand], {
    epochs: 15,
    batchSize: 16,
    shuffle: false,
    verbose: 0,
  });
  const loss = h.history.loss as number[];
  assert.ok(loss.at(-1)! < loss[0]! * 0.5, `loss ${loss[0]} -> ${loss.at(-1)}`);
  tf.dispose([x, sku, count, hand]);
  model.dispose();
});
