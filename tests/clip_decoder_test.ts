/**
 * ClipDecoder (ffmpeg.wasm) against clips the WASM encoder wrote: the frames asked for come
 * back as the source pictures were (RGB PSNR 27 dB or more after 4:2:0 and CRF 23), and a
 * corrupt or truncated clip is refused or shows fewer frames, never other pictures.
 */
import assert from "node:assert/strict";
import {
  ClipDecodeError,
  ClipDecoder,
  randomScenario,
  syntheticCamera,
  WasmClipEncoder,
} from "../pipeline/mod.ts";
import { loadWasmKernels } from "../wasm/mod.ts";

const kernels = await loadWasmKernels();
const W = 320;
const H = 240;

/** RGBA pictures of a synthetic scene and the clip the WASM encoder makes of them. */
async function clipOf(n: number) {
  const cam = syntheticCamera(randomScenario(11), {
    cameraId: "cam-1",
    width: W,
    height: H,
    fps: 5,
  });
  const rgba: Uint8Array[] = [];
  for await (const f of cam) {
    using frame = f;
    rgba.push(frame.data.slice());
    if (rgba.length === n) break;
  }
  await using encoder = new WasmClipEncoder({ instances: 1 });
  const clip = await encoder.open({ width: W, height: H, fps: 5 });
  const bytes = new Response(clip.output).bytes();
  for (const p of rgba) await clip.write(kernels.rgbaToI420({ data: p, width: W, height: H }).data);
  await clip.close();
  return { rgba, mp4: await bytes };
}

/** PSNR of the RGB channels of two RGBA pictures, dB. */
function psnrRgb(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = a[i + c]! - b[i + c]!;
      se += d * d;
      n++;
    }
  }
  return 10 * Math.log10((255 * 255) / Math.max(se / n, 1e-9));
}

Deno.test("ClipDecoder gives back the frames asked for as the source pictures were", async () => {
  const { rgba, mp4 } = await clipOf(12);
  await using decoder = new ClipDecoder();
  const { frames, pictures } = await decoder.decode(mp4, {
    width: W,
    height: H,
    pick: [0, 7, 11, 40],
  });
  assert.equal(frames, 12);
  assert.deepEqual([...pictures.keys()].sort((a, b) => a - b), [0, 7, 11]);
  for (const [i, p] of pictures) {
    assert.equal(p.data.length, W * H * 4);
    const db = psnrRgb(p.data, rgba[i]!);
    assert.ok(db >= 27, `frame ${i}: ${db.toFixed(1)} dB`);
  }
  // Frames are told apart: frame 0 is not frame 11 (the shopper moved).
  assert.ok(psnrRgb(pictures.get(0)!.data, rgba[0]!) > psnrRgb(pictures.get(0)!.data, rgba[11]!));
  // The same instance decodes the next clip.
  const again = await decoder.decode(mp4, { width: W, height: H, pick: [3] });
  assert.equal(again.frames, 12);
});

Deno.test("ClipDecoder refuses a clip that is not one and shows a truncated one's frames only", async () => {
  const { mp4 } = await clipOf(12);
  await using decoder = new ClipDecoder();
  const garbage = crypto.getRandomValues(new Uint8Array(4096));
  await assert.rejects(
    () => decoder.decode(garbage, { width: W, height: H, pick: [0] }),
    ClipDecodeError,
  );
  const cut = await decoder.decode(mp4.subarray(0, Math.floor(mp4.length / 2)), {
    width: W,
    height: H,
    pick: [0],
  }).catch((e) => e);
  if (cut instanceof Error) assert.ok(cut instanceof ClipDecodeError, String(cut));
  else assert.ok(cut.frames < 12, `${cut.frames} frames of half a clip`);
  assert.throws(() => decoder.decode(mp4, { width: 0, height: H, pick: [] }), RangeError);
});
