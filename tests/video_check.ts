/**
 * Checks clips with the system's ffprobe and ffmpeg: what the stream is, its frame times, and
 * the decoded frames (for PSNR against the source).
 */

/** What ffprobe says of a clip's video stream. */
export interface ClipProbe {
  readonly codec: string;
  readonly width: number;
  readonly height: number;
  /** Frames counted by decoding. */
  readonly frames: number;
  /** Duration of the stream, seconds. */
  readonly durationS: number;
  /** Presentation times of the frames in decode order, seconds. */
  readonly pts: number[];
}

async function withFile<T>(bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".mp4" });
  try {
    await Deno.writeFile(path, bytes);
    return await fn(path);
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

async function run(cmd: string, args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return out.stdout;
}

/** Probes a clip. */
export function probeClip(bytes: Uint8Array): Promise<ClipProbe> {
  return withFile(bytes, async (path) => {
    const json = JSON.parse(
      new TextDecoder().decode(
        await run("ffprobe", [
          ...["-v", "error", "-select_streams", "v:0", "-count_frames"],
          ...["-show_entries", "stream=codec_name,width,height,nb_read_frames,duration"],
          ...["-show_entries", "frame=pts_time", "-of", "json", path],
        ]),
      ),
    );
    const s = json.streams[0];
    const pts = (json.frames as Array<{ pts_time: string }>).map((f) => Number(f.pts_time));
    let durationS = Number(s.duration);
    if (!Number.isFinite(durationS)) {
      // Fragmented MP4 has no stream duration in its header: take it from the frames.
      const fmt = JSON.parse(
        new TextDecoder().decode(
          await run("ffprobe", [
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "json",
            path,
          ]),
        ),
      );
      durationS = Number(fmt.format.duration);
    }
    return {
      codec: s.codec_name,
      width: s.width,
      height: s.height,
      frames: Number(s.nb_read_frames),
      durationS,
      pts,
    };
  });
}

/** Decodes a clip to I420 frames. */
export function decodeI420(
  bytes: Uint8Array,
  width: number,
  height: number,
): Promise<Uint8Array[]> {
  return withFile(bytes, async (path) => {
    const raw = await run("ffmpeg", [
      ...["-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
    ]);
    const size = width * height * 3 / 2;
    const frames: Uint8Array[] = [];
    for (let at = 0; at + size <= raw.length; at += size) frames.push(raw.subarray(at, at + size));
    return frames;
  });
}

/** PSNR of two 8-bit images over all their bytes, dB (Infinity when equal). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) {
    throw new RangeError(`Cannot compare ${a.length} with ${b.length} bytes`);
  }
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  const mse = sum / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** Joins byte chunks. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
