/**
 * Pipeline signals: what stages report about cameras and bad input, next to their data. The
 * edge agent turns them into protocol events. Signals are never dropped: emitting waits while
 * the consumer is behind.
 *
 * @module
 */

/** Something a stage reports. */
export type PipelineSignal =
  | {
    readonly type: "camera_lost";
    readonly cameraId: string;
    /** When it was declared lost, reference clock ms. */
    readonly at: number;
    /** Timestamp of its last frame, or null when it never delivered one. */
    readonly lastFrameAt: number | null;
    readonly reason: string;
  }
  | {
    readonly type: "camera_resumed";
    readonly cameraId: string;
    readonly at: number;
    readonly gapMs: number;
  }
  | {
    readonly type: "frame_error";
    readonly cameraId: string;
    readonly at: number;
    /** Stage that refused the frame or failed. */
    readonly stage: string;
    readonly reason: string;
  }
  | {
    /** A session clip could not be (fully) recorded: the encoder died or the spool refused. */
    readonly type: "recording_error";
    readonly cameraId: string;
    readonly at: number;
    readonly sessionId: string;
    readonly reason: string;
  };

/** Where stages send signals; `emit` resolves once the signal is queued (backpressure). */
export interface SignalSink {
  /** Queues a signal, waiting while the queue is full. */
  emit(signal: PipelineSignal): Promise<void>;
}

/** A signal channel: stages emit into `sink`, the consumer reads `readable`. */
export function signalChannel(
  capacity = 64,
): { sink: SignalSink; readable: ReadableStream<PipelineSignal> } {
  const { readable, writable } = new TransformStream<PipelineSignal, PipelineSignal>(
    undefined,
    new CountQueuingStrategy({ highWaterMark: 1 }),
    new CountQueuingStrategy({ highWaterMark: capacity }),
  );
  const writer = writable.getWriter();
  return {
    sink: {
      async emit(signal) {
        await writer.ready;
        await writer.write(signal);
      },
    },
    readable,
  };
}

/** A sink that collects signals into an array (tests, benchmarks). */
export function collectSignals(into: PipelineSignal[]): SignalSink {
  return {
    emit(signal) {
      into.push(signal);
      return Promise.resolve();
    },
  };
}
