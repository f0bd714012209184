/**
 * A fault for tests of crash recovery: a {@link PaymentProvider} that passes every call to the
 * real one and, after one kind of call succeeded at the provider, crashes the process before its
 * answer is used (the cloud program, cli/cloud.ts, wraps the service's provider in one that kills
 * the process with SIGKILL when started with `VEND_FAULT=payments:after_capture`). What the
 * provider did is then known only to the provider, which is what the reconciler and the
 * idempotency keys must cope with.
 *
 * @example
 * ```ts
 * import { MemorySandboxStore, SandboxProvider } from "../../payments/mod.ts";
 * import { CrashingProvider } from "./crashing_provider.ts";
 *
 * const provider = new CrashingProvider(new SandboxProvider(new MemorySandboxStore()), {
 *   after: "capture",
 *   crash: () => Deno.kill(Deno.pid, "SIGKILL"),
 * });
 * ```
 *
 * @module
 */
import type { Capture, Hold, PaymentProvider, Refund } from "../../payments/mod.ts";

/** The provider calls a crash can follow. */
export type CrashPoint = "authorize" | "capture" | "cancel" | "refund";

/** Passes calls through, and crashes after the `after` call returned. */
export class CrashingProvider implements PaymentProvider {
  readonly #inner: PaymentProvider;
  readonly #after: CrashPoint;
  readonly #crash: () => void;

  /** Wraps `inner`; `crash` is called once the `after` call succeeded (it should not return). */
  constructor(
    inner: PaymentProvider,
    options: { readonly after: CrashPoint; readonly crash: () => void },
  ) {
    this.#inner = inner;
    this.#after = options.after;
    this.#crash = options.crash;
  }

  /** The wrapped provider's name. */
  get name(): string {
    return this.#inner.name;
  }

  async #pass<T>(point: CrashPoint, call: () => Promise<T>): Promise<T> {
    const result = await call();
    if (point === this.#after) this.#crash();
    return result;
  }

  /** {@link PaymentProvider.authorize}, then the crash when it is the crash point. */
  authorize(request: Parameters<PaymentProvider["authorize"]>[0]): Promise<Hold> {
    return this.#pass("authorize", () => this.#inner.authorize(request));
  }

  /** {@link PaymentProvider.capture}, then the crash when it is the crash point. */
  capture(request: Parameters<PaymentProvider["capture"]>[0]): Promise<Capture> {
    return this.#pass("capture", () => this.#inner.capture(request));
  }

  /** {@link PaymentProvider.cancel}, then the crash when it is the crash point. */
  cancel(request: Parameters<PaymentProvider["cancel"]>[0]): Promise<void> {
    return this.#pass("cancel", () => this.#inner.cancel(request));
  }

  /** {@link PaymentProvider.refund}, then the crash when it is the crash point. */
  refund(request: Parameters<PaymentProvider["refund"]>[0]): Promise<Refund> {
    return this.#pass("refund", () => this.#inner.refund(request));
  }
}
