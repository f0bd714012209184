// AssemblyScript pixel kernels, compiled with SIMD by `./vend` (cli/build_wasm.ts) into
// wasm/build/kernels.wasm. The TypeScript reference in wasm/reference_kernels.ts defines the
// exact arithmetic; tests check that both give the same bytes.
//
// Memory is managed by the host: it grows `memory` and passes byte offsets.

// ---------------------------------------------------------------------------------------------
// RGBA -> I420 (BT.601 limited range, 8-bit fixed point)
//   Y = ((66R + 129G + 25B + 128) >> 8) + 16
//   U = ((-38R - 74G + 112B + 128) >> 8) + 128     on the rounded mean of each 2x2 block
//   V = ((112R - 94G - 18B + 128) >> 8) + 128

@inline function lumaScalar(p: usize): u8 {
  const r = <i32>load<u8>(p), g = <i32>load<u8>(p + 1), b = <i32>load<u8>(p + 2);
  return <u8>(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
}

// Channel c (R=0, G=1, B=2) of 8 RGBA pixels held in a, b, widened to u16 lanes.
// Shuffle lanes must be constants, hence one function per channel.
@inline function chanR(a: v128, b: v128): v128 {
  return i16x8.extend_low_i8x16_u(i8x16.shuffle(a, b, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0));
}
@inline function chanG(a: v128, b: v128): v128 {
  return i16x8.extend_low_i8x16_u(i8x16.shuffle(a, b, 1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0));
}
@inline function chanB(a: v128, b: v128): v128 {
  return i16x8.extend_low_i8x16_u(i8x16.shuffle(a, b, 2, 6, 10, 14, 18, 22, 26, 30, 0, 0, 0, 0, 0, 0, 0, 0));
}

@inline function luma8(a: v128, b: v128): v128 {
  const r = chanR(a, b), g = chanG(a, b), bl = chanB(a, b);
  // Products and sum stay below 65536: wrapping u16 arithmetic is exact.
  let y = i16x8.add(i16x8.mul(r, i16x8.splat(66)), i16x8.mul(g, i16x8.splat(129)));
  y = i16x8.add(y, i16x8.add(i16x8.mul(bl, i16x8.splat(25)), i16x8.splat(128)));
  return i16x8.add(i16x8.shr_u(y, 8), i16x8.splat(16));
}

/** Sum of each horizontal pair of 16 u16 lanes (lo, hi) -> 8 u16 lanes. */
@inline function pairSum(lo: v128, hi: v128): v128 {
  return i16x8.narrow_i32x4_u(i32x4.extadd_pairwise_i16x8_u(lo), i32x4.extadd_pairwise_i16x8_u(hi));
}

@inline function chromaScalar(
  src: usize,
  width: i32,
  height: i32,
  cx: i32,
  cy: i32,
  uOut: usize,
  vOut: usize,
): void {
  let r = 0, g = 0, b = 0, n = 0;
  for (let dy = 0; dy < 2; dy++) {
    const y = cy * 2 + dy;
    if (y >= height) break;
    for (let dx = 0; dx < 2; dx++) {
      const x = cx * 2 + dx;
      if (x >= width) break;
      const p = src + <usize>((y * width + x) * 4);
      r += <i32>load<u8>(p);
      g += <i32>load<u8>(p + 1);
      b += <i32>load<u8>(p + 2);
      n++;
    }
  }
  const half = n >> 1;
  r = (r + half) / n;
  g = (g + half) / n;
  b = (b + half) / n;
  store<u8>(uOut, <u8>(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128));
  store<u8>(vOut, <u8>(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128));
}

export function rgbaToI420(src: usize, width: i32, height: i32, dst: usize): void {
  const cw = (width + 1) >> 1, ch = (height + 1) >> 1;
  const uPlane = dst + <usize>(width * height);
  const vPlane = uPlane + <usize>(cw * ch);
  for (let y = 0; y < height; y++) {
    const row = src + <usize>(y * width * 4);
    const out = dst + <usize>(y * width);
    let x = 0;
    for (; x + 16 <= width; x += 16) {
      const p = row + <usize>(x * 4);
      const a = v128.load(p), b = v128.load(p, 16), c = v128.load(p, 32), d = v128.load(p, 48);
      v128.store(out + <usize>x, i8x16.narrow_i16x8_u(luma8(a, b), luma8(c, d)));
    }
    for (; x < width; x++) store<u8>(out + <usize>x, lumaScalar(row + <usize>(x * 4)));
  }
  const two = i16x8.splat(2), k128 = i16x8.splat(128);
  for (let cy = 0; cy < ch; cy++) {
    const uRow = uPlane + <usize>(cy * cw), vRow = vPlane + <usize>(cy * cw);
    let cx = 0;
    if (cy * 2 + 1 < height) {
      const r0 = src + <usize>(cy * 2 * width * 4), r1 = r0 + <usize>(width * 4);
      for (; cx * 2 + 16 <= width; cx += 8) {
        const p0 = r0 + <usize>(cx * 8), p1 = r1 + <usize>(cx * 8);
        const a0 = v128.load(p0), b0 = v128.load(p0, 16), c0 = v128.load(p0, 32), d0 = v128.load(p0, 48);
        const a1 = v128.load(p1), b1 = v128.load(p1, 16), c1 = v128.load(p1, 32), d1 = v128.load(p1, 48);
        // Rounded means of the 2x2 blocks: (sum + 2) >> 2, 8 blocks per channel.
        const r = i16x8.shr_u(i16x8.add(pairSum(
          i16x8.add(chanR(a0, b0), chanR(a1, b1)),
          i16x8.add(chanR(c0, d0), chanR(c1, d1)),
        ), two), 2);
        const g = i16x8.shr_u(i16x8.add(pairSum(
          i16x8.add(chanG(a0, b0), chanG(a1, b1)),
          i16x8.add(chanG(c0, d0), chanG(c1, d1)),
        ), two), 2);
        const b = i16x8.shr_u(i16x8.add(pairSum(
          i16x8.add(chanB(a0, b0), chanB(a1, b1)),
          i16x8.add(chanB(c0, d0), chanB(c1, d1)),
        ), two), 2);
        // Signed results stay within i16: arithmetic shift matches the reference's >>.
        let u = i16x8.sub(i16x8.mul(b, i16x8.splat(112)), i16x8.add(i16x8.mul(r, i16x8.splat(38)), i16x8.mul(g, i16x8.splat(74))));
        u = i16x8.add(i16x8.shr_s(i16x8.add(u, k128), 8), k128);
        let v = i16x8.sub(i16x8.mul(r, i16x8.splat(112)), i16x8.add(i16x8.mul(g, i16x8.splat(94)), i16x8.mul(b, i16x8.splat(18))));
        v = i16x8.add(i16x8.shr_s(i16x8.add(v, k128), 8), k128);
        v128.store64_lane(uRow + <usize>cx, i8x16.narrow_i16x8_u(u, u), 0);
        v128.store64_lane(vRow + <usize>cx, i8x16.narrow_i16x8_u(v, v), 0);
      }
    }
    for (; cx < cw; cx++) chromaScalar(src, width, height, cx, cy, uRow + <usize>cx, vRow + <usize>cx);
  }
}

// ---------------------------------------------------------------------------------------------
// I420 -> RGBA (limited range; Y clamped to 16..235 and U, V to 16..240, 6-bit fixed point)
//   C = Y - 16, D = U - 128, E = V - 128
//   R = clamp((74C + 102E + 32) >> 6)
//   G = clamp((74C - 25D - 52E + 32) >> 6)
//   B = clamp((74C + 129D + 32) >> 6)

@inline function clampI(v: i32, lo: i32, hi: i32): i32 {
  return v < lo ? lo : v > hi ? hi : v;
}

@inline function clampU8(v: i32): u8 {
  return <u8>(v < 0 ? 0 : v > 255 ? 255 : v);
}

export function i420ToRgba(src: usize, width: i32, height: i32, dst: usize): void {
  const cw = (width + 1) >> 1, ch = (height + 1) >> 1;
  const uPlane = src + <usize>(width * height);
  const vPlane = uPlane + <usize>(cw * ch);
  const k16 = i16x8.splat(16), k235 = i16x8.splat(235), k240 = i16x8.splat(240), k128 = i16x8.splat(128);
  const k32 = i16x8.splat(32), k74 = i16x8.splat(74), alpha = i16x8.splat(255);
  for (let y = 0; y < height; y++) {
    const yRow = src + <usize>(y * width);
    const uRow = uPlane + <usize>((y >> 1) * cw), vRow = vPlane + <usize>((y >> 1) * cw);
    const out = dst + <usize>(y * width * 4);
    let x = 0;
    for (; x + 8 <= width; x += 8) {
      const yy = i16x8.extend_low_i8x16_u(v128.load64_zero(yRow + <usize>x));
      // 4 chroma samples, each used by two neighbouring pixels.
      const u4 = v128.load32_zero(uRow + <usize>(x >> 1)), v4 = v128.load32_zero(vRow + <usize>(x >> 1));
      const uu = i16x8.extend_low_i8x16_u(i8x16.shuffle(u4, u4, 0, 0, 1, 1, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0));
      const vv = i16x8.extend_low_i8x16_u(i8x16.shuffle(v4, v4, 0, 0, 1, 1, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0));
      const c = i16x8.mul(i16x8.sub(i16x8.min_s(i16x8.max_s(yy, k16), k235), k16), k74);
      const d = i16x8.sub(i16x8.min_s(i16x8.max_s(uu, k16), k240), k128);
      const e = i16x8.sub(i16x8.min_s(i16x8.max_s(vv, k16), k240), k128);
      const cr = i16x8.add(c, k32);
      const r = i16x8.shr_s(i16x8.add(cr, i16x8.mul(e, i16x8.splat(102))), 6);
      const g = i16x8.shr_s(
        i16x8.sub(cr, i16x8.add(i16x8.mul(d, i16x8.splat(25)), i16x8.mul(e, i16x8.splat(52)))),
        6,
      );
      const b = i16x8.shr_s(i16x8.add(cr, i16x8.mul(d, i16x8.splat(129))), 6);
      const r8 = i8x16.narrow_i16x8_u(r, alpha); // lanes 0-7 R, 8-15 alpha
      const g8 = i8x16.narrow_i16x8_u(g, b); // lanes 0-7 G, 8-15 B
      // Interleave into R G B A for 8 pixels (32 bytes).
      const rg = i8x16.shuffle(r8, g8, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const ba = i8x16.shuffle(g8, r8, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      v128.store(out + <usize>(x * 4), i8x16.shuffle(rg, ba, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23));
      v128.store(out + <usize>(x * 4), i8x16.shuffle(rg, ba, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), 16);
    }
    for (; x < width; x++) {
      const c = clampI(<i32>load<u8>(yRow + <usize>x), 16, 235) - 16;
      const d = clampI(<i32>load<u8>(uRow + <usize>(x >> 1)), 16, 240) - 128;
      const e = clampI(<i32>load<u8>(vRow + <usize>(x >> 1)), 16, 240) - 128;
      const p = out + <usize>(x * 4);
      store<u8>(p, clampU8((74 * c + 102 * e + 32) >> 6));
      store<u8>(p + 1, clampU8((74 * c - 25 * d - 52 * e + 32) >> 6));
      store<u8>(p + 2, clampU8((74 * c + 129 * d + 32) >> 6));
      store<u8>(p + 3, 255);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bilinear resize of RGBA into a letterboxed RGBA target.
// The host computes the geometry and the sampling tables (x0, x1, fx per output column and
// y0, y1, fy per output row, weights in 1/256) so that both implementations sample alike:
//   vertical:   t = (row0 * (256 - fy) + row1 * fy + 128) >> 8       over the source row
//   horizontal: o = (t[x0] * (256 - fx) + t[x1] * fx + 128) >> 8
// `tmp` holds one vertically interpolated source row (srcWidth * 4 bytes).

export function resizeLetterbox(
  src: usize,
  srcWidth: i32,
  dst: usize,
  dstWidth: i32,
  dstHeight: i32,
  offsetX: i32,
  offsetY: i32,
  outWidth: i32,
  outHeight: i32,
  xTable: usize, // per output column: i32 x0*4, i32 x1*4, i32 fx
  yTable: usize, // per output row: i32 y0, i32 y1, i32 fy
  tmp: usize,
  pad: u32,
): void {
  // Padding first: the whole target, then the picture over it.
  const padV = i32x4.splat(<i32>pad);
  const total = dstWidth * dstHeight;
  let i = 0;
  for (; i + 4 <= total; i += 4) v128.store(dst + <usize>(i * 4), padV);
  for (; i < total; i++) store<u32>(dst + <usize>(i * 4), pad);

  const rowBytes = srcWidth * 4;
  const k128 = i16x8.splat(128);
  for (let y = 0; y < outHeight; y++) {
    const ty = yTable + <usize>(y * 12);
    const row0 = src + <usize>(load<i32>(ty) * rowBytes);
    const row1 = src + <usize>(load<i32>(ty, 4) * rowBytes);
    const fy = load<i32>(ty, 8);
    const w0 = i16x8.splat(<i16>(256 - fy)), w1 = i16x8.splat(<i16>fy);
    let b = 0;
    for (; b + 16 <= rowBytes; b += 16) {
      const a = v128.load(row0 + <usize>b), c = v128.load(row1 + <usize>b);
      const lo = i16x8.shr_u(
        i16x8.add(i16x8.add(i16x8.mul(i16x8.extend_low_i8x16_u(a), w0), i16x8.mul(i16x8.extend_low_i8x16_u(c), w1)), k128),
        8,
      );
      const hi = i16x8.shr_u(
        i16x8.add(i16x8.add(i16x8.mul(i16x8.extend_high_i8x16_u(a), w0), i16x8.mul(i16x8.extend_high_i8x16_u(c), w1)), k128),
        8,
      );
      v128.store(tmp + <usize>b, i8x16.narrow_i16x8_u(lo, hi));
    }
    for (; b < rowBytes; b++) {
      const t = (<i32>load<u8>(row0 + <usize>b) * (256 - fy) + <i32>load<u8>(row1 + <usize>b) * fy + 128) >> 8;
      store<u8>(tmp + <usize>b, <u8>t);
    }
    const out = dst + <usize>(((offsetY + y) * dstWidth + offsetX) * 4);
    let x = 0;
    // Two output pixels per step: their four source pixels widened to u16 lanes.
    for (; x + 2 <= outWidth; x += 2) {
      const t0 = xTable + <usize>(x * 12);
      const fa = load<i32>(t0, 8), fb = load<i32>(t0, 20);
      const p0 = i64x2.replace_lane(
        v128.load32_zero(tmp + <usize>load<i32>(t0)),
        1,
        <i64>load<u32>(tmp + <usize>load<i32>(t0, 12)),
      );
      const p1 = i64x2.replace_lane(
        v128.load32_zero(tmp + <usize>load<i32>(t0, 4)),
        1,
        <i64>load<u32>(tmp + <usize>load<i32>(t0, 16)),
      );
      // p0, p1 bytes: [A0 0 0 0 0 ... | B0 ...]; gather into u16 lanes [A(4) B(4)].
      const q0 = i16x8.extend_low_i8x16_u(i8x16.shuffle(p0, p0, 0, 1, 2, 3, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0));
      const q1 = i16x8.extend_low_i8x16_u(i8x16.shuffle(p1, p1, 0, 1, 2, 3, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0));
      // Weights per lane: pixel A's in lanes 0-3, B's in 4-7 (each weight <= 256 fits 16 bits).
      const spread: i64 = 0x0001000100010001;
      const w0 = i64x2.replace_lane(i64x2.splat(<i64>(256 - fa) * spread), 1, <i64>(256 - fb) * spread);
      const w1 = i64x2.replace_lane(i64x2.splat(<i64>fa * spread), 1, <i64>fb * spread);
      const o = i16x8.shr_u(i16x8.add(i16x8.add(i16x8.mul(q0, w0), i16x8.mul(q1, w1)), k128), 8);
      v128.store64_lane(out + <usize>(x * 4), i8x16.narrow_i16x8_u(o, o), 0);
    }
    for (; x < outWidth; x++) {
      const t = xTable + <usize>(x * 12);
      const pa = tmp + <usize>load<i32>(t), pb = tmp + <usize>load<i32>(t, 4);
      const fx = load<i32>(t, 8);
      for (let c = 0; c < 4; c++) {
        const v = (<i32>load<u8>(pa + <usize>c) * (256 - fx) + <i32>load<u8>(pb + <usize>c) * fx + 128) >> 8;
        store<u8>(out + <usize>(x * 4 + c), <u8>v);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// RGBA (HWC, u8) -> planar float32 RGB (NCHW with N = 1): out[c][i] = f32(px) * scale[c] + bias[c]
// with scale = 1 / (255 * std), bias = -mean / std, both rounded to f32 by the host.

export function rgbaToNchw(
  src: usize,
  pixels: i32,
  dst: usize,
  scaleR: f32,
  scaleG: f32,
  scaleB: f32,
  biasR: f32,
  biasG: f32,
  biasB: f32,
): void {
  const plane = <usize>(pixels * 4);
  const dr = dst, dg = dst + plane, db = dst + plane * 2;
  const sr = f32x4.splat(scaleR), sg = f32x4.splat(scaleG), sb = f32x4.splat(scaleB);
  const br = f32x4.splat(biasR), bg = f32x4.splat(biasG), bb = f32x4.splat(biasB);
  let i = 0;
  for (; i + 4 <= pixels; i += 4) {
    const p = v128.load(src + <usize>(i * 4));
    const mask = i32x4.splat(255);
    const r = f32x4.convert_i32x4_u(v128.and(p, mask));
    const g = f32x4.convert_i32x4_u(v128.and(i32x4.shr_u(p, 8), mask));
    const b = f32x4.convert_i32x4_u(v128.and(i32x4.shr_u(p, 16), mask));
    const o = <usize>(i * 4);
    v128.store(dr + o, f32x4.add(f32x4.mul(r, sr), br));
    v128.store(dg + o, f32x4.add(f32x4.mul(g, sg), bg));
    v128.store(db + o, f32x4.add(f32x4.mul(b, sb), bb));
  }
  for (; i < pixels; i++) {
    const p = src + <usize>(i * 4);
    const o = <usize>(i * 4);
    store<f32>(dr + o, <f32>load<u8>(p) * scaleR + biasR);
    store<f32>(dg + o, <f32>load<u8>(p + 1) * scaleG + biasG);
    store<f32>(db + o, <f32>load<u8>(p + 2) * scaleB + biasB);
  }
}

// ---------------------------------------------------------------------------------------------
// Motion between two 8-bit planes: sum of |a - b| and the count of |a - b| > threshold,
// written as two f64 at `out`.

export function motionScore(a: usize, b: usize, n: i32, threshold: i32, out: usize): void {
  let sum: f64 = 0, count: f64 = 0;
  const thr = i8x16.splat(<i8>threshold);
  const one = i8x16.splat(1);
  let i = 0;
  while (i + 16 <= n) {
    // Accumulate in i32x4 for at most 4096 steps (4096 * 4 * 255 * ... stays far below 2^31).
    let accSum = i32x4.splat(0), accCount = i32x4.splat(0);
    const end = min(n - 15, i + 16 * 4096);
    for (; i < end; i += 16) {
      const va = v128.load(a + <usize>i), vb = v128.load(b + <usize>i);
      const d = v128.or(i8x16.sub_sat_u(va, vb), i8x16.sub_sat_u(vb, va));
      accSum = i32x4.add(accSum, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(d)));
      const over = v128.and(i8x16.gt_u(d, thr), one);
      accCount = i32x4.add(accCount, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(over)));
    }
    sum += <f64>(i32x4.extract_lane(accSum, 0) + i32x4.extract_lane(accSum, 1) + i32x4.extract_lane(accSum, 2) +
      i32x4.extract_lane(accSum, 3));
    count += <f64>(i32x4.extract_lane(accCount, 0) + i32x4.extract_lane(accCount, 1) +
      i32x4.extract_lane(accCount, 2) + i32x4.extract_lane(accCount, 3));
  }
  for (; i < n; i++) {
    const d = abs<i32>(<i32>load<u8>(a + <usize>i) - <i32>load<u8>(b + <usize>i));
    sum += <f64>d;
    if (d > threshold) count += 1;
  }
  store<f64>(out, sum);
  store<f64>(out, count, 8);
}
