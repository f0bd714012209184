/**
 * The contract of an H.264 clip encoder: raw I420 frames in, fragmented MP4 out as it is made.
 * Backends (ffmpeg.wasm in a worker by default, the system ffmpeg on boards with hardware
 * encoders) implement {@link ClipEncoder}; {@link h264Args} is the ffmpeg command line they
 * share, so every backend writes the same kind of file.
 *
 * @module
 */

/** What one clip is. */
export interface ClipSpec {
  /** Frame width in pixels (even). */
  readonly width: number;
  /** Frame height in pixels (even). */
  readonly height: number;
  /** Frames per second of the clip's timeline. */
  readonly fps: number;
  /** x264 constant rate factor, 0-51, lower is better. Default 23. */
  readonly crf?: number;
  /** Seconds between keyframes, which is also the length of an fMP4 fragment. Default 1. */
  readonly keyframeSeconds?: number;
  /** Container metadata (e.g. `title`, `comment`). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** How an encoding ended. */
export interface EncodeResult {
  /** Frames encoded. */
  readonly frames: number;
  /** Bytes of MP4 written. */
  readonly bytes: number;
}

/** One clip being encoded. */
export interface ClipEncoding {
  /** The clip. */
  readonly spec: ClipSpec;
  /**
   * Encodes one I420 frame of the clip's size; resolves when the encoder has taken it
   * (backpressure). Throws `RangeError` for a frame of another size, {@link ClipEncoderError}
   * when the encoder died.
   */
  write(frame: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>;
  /** Ends the clip; resolves when the last byte of MP4 has been written to `output`. */
  close(): Promise<EncodeResult>;
  /** Gives the clip up; `output` errors. */
  abort(): void;
  /** Fragmented MP4 (`ftyp`+`moov`, then `moof`+`mdat` per keyframe interval), as made. */
  readonly output: ReadableStream<Uint8Array>;
}

/** An H.264 encoder that makes clip after clip. */
export interface ClipEncoder extends AsyncDisposable {
  /** The backend, e.g. `"wasm"` or `"native"`. */
  readonly backend: string;
  /** Starts a clip; waits while all the backend's encoders are busy. */
  open(spec: ClipSpec, options?: { signal?: AbortSignal }): Promise<ClipEncoding>;
  /** Starts the backend's encoders ahead of the first clip, when starting one is slow. */
  warm?(): Promise<void>;
}

/** The encoder died or refused a clip. */
export class ClipEncoderError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClipEncoderError";
  }
}

/** Bytes of one I420 frame of a clip. */
export function i420FrameBytes(spec: Pick<ClipSpec, "width" | "height">): number {
  return spec.width * spec.height + 2 * ((spec.width + 1) >> 1) * ((spec.height + 1) >> 1);
}

/** Throws `RangeError` naming what is wrong with a clip spec. */
export function checkClipSpec(spec: ClipSpec): void {
  const { width, height, fps } = spec;
  const dims = [["width", width, 7680], ["height", height, 4320]] as const;
  for (const [name, v, hi] of dims) {
    if (!Number.isInteger(v) || v % 2 !== 0 || v < 16 || v > hi) {
      throw new RangeError(`Cannot encode a clip of ${name} ${v}: an even number 16-${hi}`);
    }
  }
  if (!Number.isFinite(fps) || fps < 1 || fps > 240) {
    throw new RangeError(`Cannot encode a clip at ${fps} fps: 1-240`);
  }
  if (spec.crf !== undefined && !(Number.isInteger(spec.crf) && spec.crf >= 0 && spec.crf <= 51)) {
    throw new RangeError(`Cannot encode a clip with crf ${spec.crf}: an integer 0-51`);
  }
  const k = spec.keyframeSeconds;
  if (k !== undefined && !(Number.isFinite(k) && k > 0 && k <= 10)) {
    throw new RangeError(`Cannot encode a clip with keyframes every ${k} s: over 0, up to 10`);
  }
}

/** Throws `RangeError` when `frame` is not one I420 frame of the clip's size. */
export function checkClipFrame(spec: ClipSpec, frame: Uint8Array): void {
  const want = i420FrameBytes(spec);
  if (!(frame instanceof Uint8Array) || frame.length !== want) {
    throw new RangeError(
      `Cannot encode a frame of ${frame?.length ?? 0} bytes into a ${spec.width}x${spec.height} ` +
        `clip: expected ${want} bytes of I420`,
    );
  }
}

/** Options of {@link h264Args}. */
export interface H264ArgsOptions {
  /** Where ffmpeg reads raw frames. */
  readonly input: string;
  /** Where ffmpeg writes the MP4. */
  readonly output: string;
  /** Encoder: `"libx264"` (default) or a hardware one such as `"h264_v4l2m2m"`. */
  readonly codec?: string;
  /** Encoder threads; omitted lets ffmpeg choose. */
  readonly threads?: number;
  /** Bit rate for hardware encoders, which take no crf. Default `"2M"`. */
  readonly bitrate?: string;
}

/** The ffmpeg arguments (without the program name) that encode a clip to fragmented MP4. */
export function h264Args(spec: ClipSpec, options: H264ArgsOptions): string[] {
  checkClipSpec(spec);
  const codec = options.codec ?? "libx264";
  const gop = Math.max(1, Math.round(spec.fps * (spec.keyframeSeconds ?? 1)));
  const quality = codec === "libx264"
    ? ["-preset", "ultrafast", "-tune", "zerolatency", "-crf", String(spec.crf ?? 23)]
    : ["-b:v", options.bitrate ?? "2M"];
  const meta = Object.entries(spec.metadata ?? {}).flatMap(([k, v]) => ["-metadata", `${k}=${v}`]);
  return [
    ...["-hide_banner", "-nostdin", "-loglevel", "error"],
    ...["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", `${spec.width}x${spec.height}`],
    ...["-framerate", String(spec.fps), "-i", options.input],
    ...["-c:v", codec, ...quality, "-g", String(gop), "-keyint_min", String(gop)],
    ...(options.threads ? ["-threads", String(options.threads)] : []),
    ...["-pix_fmt", "yuv420p", ...meta],
    ...["-movflags", "frag_keyframe+empty_moov+default_base_moof", "-flush_packets", "1"],
    ...["-f", "mp4", options.output],
  ];
}
