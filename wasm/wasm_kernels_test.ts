import assert from "node:assert/strict";
import { i420Size, type RgbaImage } from "./image.ts";
import { referenceKernels as ts } from "./reference_kernels.ts";
import { loadWasmKernels } from "./wasm_kernels.ts";

const wasm = await loadWasmKernels();

/** Deterministic pseudo-random bytes (xorshift32). */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 255;
  }
  return out;
}

const SIZES: Array<[number, number]> = [
  [1, 1],
  [2, 2],
  [3, 5],
  [17, 9],
  [31, 33],
  [33, 1],
  [1, 33],
  [64, 48],
  [127, 65],
  [161, 97],
];

function rgba(width: number, height: number, seed: number): RgbaImage {
  return { data: noise(width * height * 4, seed), width, height };
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): string | undefined {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) return `index ${i}: ${a[i]} vs ${b[i]}`;
  }
  return undefined;
}

Deno.test("WASM rgbaToI420 matches the TypeScript reference bit for bit on odd sizes", () => {
  for (const [w, h] of SIZES) {
    const img = rgba(w, h, w * 1000 + h);
    const diff = firstDifference(wasm.rgbaToI420(img).data, ts.rgbaToI420(img).data);
    assert.equal(diff, undefined, `${w}x${h}: ${diff}`);
  }
});

Deno.test("WASM i420ToRgba matches the TypeScript reference bit for bit on odd sizes", () => {
  for (const [w, h] of SIZES) {
    const img = { data: noise(i420Size(w, h), w * 7 + h), width: w, height: h };
    const diff = firstDifference(wasm.i420ToRgba(img).data, ts.i420ToRgba(img).data);
    assert.equal(diff, undefined, `${w}x${h}: ${diff}`);
  }
});

Deno.test("WASM letterbox matches the TypeScript reference bit for bit, up and down", () => {
  const targets = [
    { width: 96, height: 96 },
    { width: 13, height: 7 },
    { width: 200, height: 150 },
    { width: 1, height: 1 },
  ];
  for (const [w, h] of SIZES) {
    const img = rgba(w, h, w + h * 31);
    for (const size of targets) {
      const a = wasm.letterbox(img, size, { pad: [1, 2, 3] });
      const b = ts.letterbox(img, size, { pad: [1, 2, 3] });
      assert.deepEqual(a.geometry, b.geometry);
      const diff = firstDifference(a.data, b.data);
      assert.equal(diff, undefined, `${w}x${h} -> ${size.width}x${size.height}: ${diff}`);
    }
  }
});

Deno.test("WASM rgbaToNchw matches the TypeScript reference bit for bit", () => {
  const options = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;
  for (const [w, h] of SIZES) {
    const img = rgba(w, h, h * 3 + w);
    const diff = firstDifference(wasm.rgbaToNchw(img, options), ts.rgbaToNchw(img, options));
    assert.equal(diff, undefined, `${w}x${h}: ${diff}`);
  }
});

Deno.test("WASM motionScore matches the TypeScript reference exactly", () => {
  for (const n of [1, 15, 16, 17, 1000, 65_537, 640 * 480]) {
    const a = noise(n, n);
    const b = noise(n, n + 1);
    for (const threshold of [0, 25, 254]) {
      assert.deepEqual(
        wasm.motionScore(a, b, { threshold }),
        ts.motionScore(a, b, { threshold }),
        `n=${n} t=${threshold}`,
      );
    }
  }
});

Deno.test("pixel kernels agree with colour science: grey stays grey through I420 and back", () => {
  for (const k of [wasm, ts]) {
    const img = { data: new Uint8Array(8 * 2 * 4).fill(128), width: 8, height: 2 };
    const yuv = k.rgbaToI420(img);
    assert.equal(yuv.data[0], 126); // ((66+129+25)*128 + 128) >> 8 = 110, + 16
    assert.equal(yuv.data[16], 128); // U of grey
    const back = k.i420ToRgba(yuv).data;
    for (let i = 0; i < back.length; i += 4) {
      assert.ok(Math.abs(back[i]! - 128) <= 2, `${k.name}: R ${back[i]}`);
      assert.equal(back[i + 3], 255);
    }
  }
});

Deno.test("letterbox centres a 640x480 picture in a 96x96 target", () => {
  const img = { data: new Uint8Array(640 * 480 * 4).fill(200), width: 640, height: 480 };
  const out = wasm.letterbox(img, { width: 96, height: 96 });
  assert.deepEqual(out.geometry, { scale: 0.15, width: 96, height: 72, offsetX: 0, offsetY: 12 });
  assert.deepEqual([...out.data.subarray(0, 4)], [114, 114, 114, 255]); // padding above
  assert.deepEqual([...out.data.subarray(96 * 12 * 4, 96 * 12 * 4 + 4)], [200, 200, 200, 200]); // picture
});

Deno.test("pixel kernels refuse images whose bytes do not match their size", () => {
  for (const k of [wasm, ts]) {
    assert.throws(
      () => k.rgbaToI420({ data: new Uint8Array(10), width: 2, height: 2 }),
      /2x2 needs 16 bytes, got 10/,
    );
    assert.throws(() => k.i420ToRgba({ data: new Uint8Array(5), width: 3, height: 3 }), RangeError);
    assert.throws(
      () => k.letterbox(rgba(2, 2, 1), { width: 0, height: 5 }),
      /letterbox target size 0x5/,
    );
    assert.throws(
      () => k.rgbaToNchw(rgba(2, 2, 1), { mean: [0, 0, 0], std: [1, 0, 1] }),
      /std\[1\]/,
    );
    assert.throws(() => k.motionScore(new Uint8Array(3), new Uint8Array(4)), /differ in length/);
    assert.throws(
      () => k.rgbaToI420({ data: [1, 2, 3, 4] as unknown as Uint8Array, width: 1, height: 1 }),
      TypeError,
    );
  }
});

Deno.test("WASM kernels read and write resident blocks in place with the same results", () => {
  const [w, h] = [127, 65];
  const img = rgba(w, h, 99);
  using input = wasm.allocate(w * h * 4);
  input.bytes.set(img.data);
  using yuv = wasm.allocate(i420Size(w, h));
  const out = wasm.rgbaToI420({ data: input.bytes, width: w, height: h }, { into: yuv.bytes });
  assert.equal(out.data.buffer, yuv.bytes.buffer, "wrote into kernel memory");
  assert.equal(firstDifference(yuv.bytes, ts.rgbaToI420(img).data), undefined);
  using planes = wasm.allocate(w * h * 12);
  const opts = { mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] } as const;
  wasm.rgbaToNchw({ data: input.bytes, width: w, height: h }, { ...opts, into: planes.floats });
  assert.equal(firstDifference(planes.floats, ts.rgbaToNchw(img, opts)), undefined);
});

Deno.test("WASM resident blocks survive memory growth and are reused after dispose", () => {
  const img = rgba(33, 17, 5);
  const block = wasm.allocate(img.data.length);
  block.bytes.set(img.data);
  using big = wasm.allocate(64 * 1024 * 1024); // forces the memory to grow, detaching old views
  assert.equal(big.byteLength, 64 * 1024 * 1024);
  const out = wasm.letterbox({ data: block.bytes, width: 33, height: 17 }, {
    width: 40,
    height: 40,
  });
  assert.equal(
    firstDifference(out.data, ts.letterbox(img, { width: 40, height: 40 }).data),
    undefined,
  );
  const offset = block.bytes.byteOffset;
  block[Symbol.dispose]();
  assert.throws(() => block.bytes, /after dispose/);
  using again = wasm.allocate(img.data.length);
  assert.equal(again.bytes.byteOffset, offset);
  assert.throws(() => wasm.allocate(0), RangeError);
});
