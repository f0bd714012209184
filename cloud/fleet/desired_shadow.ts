/**
 * The one writer of devices' desired shadows (`<deviceId>.desired` in the `shadow` bucket).
 * An operator's edit (the fleet API), a deployment handing a device its update, and a cancelled
 * deployment taking it back all change it through {@link DesiredShadow.change}: the version is
 * raised by one, the envelope renewed, and the write is a compare-and-swap over what was read.
 *
 * @example
 * ```ts
 * import type { KV } from "@nats-io/kv";
 * import { DesiredShadow } from "./desired_shadow.ts";
 * declare const shadowKv: KV;
 *
 * const desired = new DesiredShadow(shadowKv);
 * await desired.change("m001-a", (current) => ({ ...current?.state, modelVersion: "1.0.0" }), {
 *   updatedBy: "operator alice",
 * });
 * ```
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import {
  newEnvelope,
  parseShadow,
  shadow,
  type ShadowDesired,
  shadowKey,
  type ShadowState,
} from "../../protocol/mod.ts";
import { isRevisionConflict } from "../nats/mod.ts";
import { retry } from "../../runtime/mod.ts";

/** Options of {@link DesiredShadow.change}. */
export interface DesiredChangeOptions {
  /** Who changes it (kept in the shadow's `updatedBy`). */
  readonly updatedBy: string;
  /**
   * Write only over this revision (0: only if there is none): one attempt, a revision
   * conflict thrown when it changed. Without it, a change made meanwhile is read again.
   */
  readonly revision?: number;
  /** Attempts over concurrent changes, when no `revision` is given. Default 20. */
  readonly attempts?: number;
}

/** A change made: the desired shadow before (if any), after, and the revision written. */
export interface DesiredChange {
  /** The desired shadow before the change. */
  readonly before: ShadowDesired | undefined;
  /** The desired shadow written. */
  readonly after: ShadowDesired;
  /** Its revision in the bucket. */
  readonly revision: number;
}

/** Reads and changes devices' desired shadows; see the module documentation. */
export class DesiredShadow {
  readonly #kv: KV;
  readonly #now: () => number;

  /** `kv`: the `shadow` bucket; `options.now`: the clock of the envelopes. */
  constructor(kv: KV, options: { now?: () => number } = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
  }

  /** The device's desired shadow and its revision (0 when there is none). */
  async read(deviceId: string): Promise<{ desired?: ShadowDesired; revision: number }> {
    const e = await this.#kv.get(shadowKey(deviceId, "desired"));
    const parsed = e?.operation === "PUT" && e.value.length ? parseShadow(e.value) : undefined;
    const desired = parsed?.ok && parsed.value.kind === "desired" ? parsed.value : undefined;
    return { ...(desired ? { desired } : {}), revision: e?.operation === "PUT" ? e.revision : 0 };
  }

  /**
   * Changes the device's desired state to what `change` makes of the current one (`undefined`
   * leaves it as it is, and resolves `undefined`). A conflict (with `options.revision`, or after
   * the attempts) is thrown as nats.js's revision-conflict error.
   */
  async change(
    deviceId: string,
    change: (
      current: ShadowDesired | undefined,
    ) => Promise<ShadowState | undefined> | ShadowState | undefined,
    options: DesiredChangeOptions,
  ): Promise<DesiredChange | undefined> {
    const key = shadowKey(deviceId, "desired");
    // Only this write's revision conflict is tried again; it propagates itself (nats.js's)
    // with `options.revision`, or after the attempts.
    let lost: unknown;
    return await retry(async () => {
      const { desired: before, revision: read } = await this.read(deviceId);
      const state = await change(before);
      if (state === undefined) return undefined;
      const after: ShadowDesired = {
        ...newEnvelope(this.#now()),
        deviceId,
        kind: "desired",
        version: (before?.version ?? 0) + 1,
        state,
        updatedBy: options.updatedBy,
      };
      const data = shadow.encode(after);
      const base = options.revision ?? read;
      try {
        const revision = base === 0
          ? await this.#kv.create(key, data)
          : await this.#kv.update(key, data, base);
        return { before, after, revision };
      } catch (err) {
        if (isRevisionConflict(err)) lost = err;
        throw err;
      }
    }, {
      attempts: options.revision !== undefined ? 1 : options.attempts ?? 20,
      retryIf: (err) => lost !== undefined && err === lost,
      delayMs: (attempt) => 10 * attempt,
    });
  }
}
