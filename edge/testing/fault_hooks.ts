/**
 * Fault hooks for tests: kill the device program with SIGKILL at a named point of its work
 * (`VEND_FAULT`), so a test can prove that what was written there survives and is finished by the
 * next start. Only edge/main.ts wires them in; the agent knows nothing of them.
 *
 * - `after_outbox_write:N`: right after the outbox wrote its Nth message, before publishing it.
 * - `after_publish:N`: right after the Nth message was acknowledged by its stream.
 * - `update:PHASE`: before update phase PHASE (`download`, `verify`, `install`, `switch`), or
 *   `first_start` before the new version on trial says it is healthy. Once per update folder (a
 *   marker file there): the restarted program must be able to finish the update.
 *
 * @example
 * ```ts
 * import { faultHooks, parseFaultSpec } from "./fault_hooks.ts";
 *
 * const hooks = faultHooks(parseFaultSpec("after_publish:3"));
 * ```
 *
 * @module
 */
import type { AgentHooks } from "../agent/mod.ts";

const UPDATE_PHASES = ["download", "verify", "install", "switch", "first_start"] as const;

/** Where to kill the program: a parsed `VEND_FAULT`. */
export type FaultSpec =
  | { readonly kill: "after_outbox_write" | "after_publish"; readonly at: number }
  | { readonly kill: "update"; readonly phase: (typeof UPDATE_PHASES)[number] };

/** Parses a `VEND_FAULT` value; `undefined` or empty is no fault. Throws a `RangeError` naming it. */
export function parseFaultSpec(value: string | undefined): FaultSpec | undefined {
  if (!value) return undefined;
  const counted = /^(after_outbox_write|after_publish):([1-9]\d{0,8})$/.exec(value);
  if (counted) {
    return { kill: counted[1] as "after_outbox_write" | "after_publish", at: Number(counted[2]) };
  }
  const update = /^update:(\w+)$/.exec(value);
  const phase = UPDATE_PHASES.find((p) => p === update?.[1]);
  if (phase) return { kill: "update", phase };
  throw new RangeError(
    `VEND_FAULT: expected after_outbox_write:N, after_publish:N (N >= 1) or update:PHASE ` +
      `(${UPDATE_PHASES.join(", ")}), got ${JSON.stringify(value)}`,
  );
}

/** Options of {@link faultHooks}. */
export interface FaultHooksOptions {
  /** What a hook does when its point is reached. Default: SIGKILL this process. */
  readonly kill?: () => void;
}

/** The agent hooks that carry out `spec` (none for `undefined`). */
export function faultHooks(
  spec: FaultSpec | undefined,
  options: FaultHooksOptions = {},
): AgentHooks {
  const kill = options.kill ?? (() => Deno.kill(Deno.pid, "SIGKILL"));
  if (!spec) return {};
  if (spec.kill !== "update") {
    let seen = 0;
    const count = () => {
      if (++seen === spec.at) kill();
    };
    return spec.kill === "after_outbox_write"
      ? { afterOutboxAppend: count }
      : { afterOutboxPublish: count };
  }
  /** True the first time `phase` is reached in `dir` (its marker is written then). */
  const first = (dir: string, phase: string): boolean => {
    const marker = `${dir}/fault-${phase}.done`;
    try {
      Deno.writeTextFileSync(marker, "", { createNew: true });
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return false;
      throw e;
    }
  };
  if (spec.phase === "first_start") {
    return {
      beforeTrialHealthy: (dir) => {
        if (first(dir, spec.phase)) kill();
        return Promise.resolve();
      },
    };
  }
  return {
    beforeUpdatePhase: (phase, dir) => {
      if (phase === spec.phase && first(dir, phase)) kill();
    },
  };
}
