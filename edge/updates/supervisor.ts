/**
 * The supervisor: a small loop that runs the device program from the active slot and keeps the
 * machine on a working version. A version on trial must report healthy (the agent writes
 * `healthy.json` once NATS is connected and its pipeline runs) within its window; if it crashes
 * at start `maxBoots` times (a boot counter persisted before each start, so power cuts count),
 * or hangs without reporting healthy, the supervisor switches back to the previous slot and
 * records why, for the agent to report. A program that exits with {@link SWITCH_EXIT_CODE}
 * asked for the (new) active slot to be started.
 *
 * @example
 * ```ts
 * import { OtaSlots } from "./ota_slots.ts";
 * import { runSupervisor } from "./supervisor.ts";
 *
 * const slots = await OtaSlots.open("/var/lib/vendstream/ota");
 * await runSupervisor(slots, { signal: AbortSignal.timeout(60_000) });
 * ```
 *
 * @module
 */
import {
  type OtaSlots,
  type OtaState,
  otherSlot,
  type SlotInfo,
  type SlotName,
  type Trial,
} from "./ota_slots.ts";
import { sleep } from "../../runtime/mod.ts";

/** Exit code with which the program asks the supervisor to start the active slot again. */
export const SWITCH_EXIT_CODE = 75;

/** What the running version writes when it is healthy. */
export interface HealthReport {
  readonly version: string;
  readonly pid: number;
  readonly at: number;
}

/** Options of {@link runSupervisor}. */
export interface SupervisorOptions {
  /** Stops the supervisor (and its program). */
  readonly signal?: AbortSignal;
  /** Pause before restarting a program that exited on its own. Default 1000 ms. */
  readonly restartDelayMs?: number;
  /** Extra environment of the program. */
  readonly env?: Readonly<Record<string, string>>;
  /** Log sink. Default: JSON lines on stderr. */
  readonly log?: (line: Record<string, unknown>) => void;
  /** Where the program's output goes. Default: this process's. */
  readonly output?: "inherit" | "null";
  /** Told after every state change (tests). */
  readonly onState?: (state: OtaState) => void;
}

/** Runs the device program from the active slot until `signal` aborts. */
export async function runSupervisor(
  slots: OtaSlots,
  options: SupervisorOptions = {},
): Promise<void> {
  const log = options.log ??
    ((l) => console.error(JSON.stringify({ ts: new Date().toISOString(), ...l })));
  const signal = options.signal ?? new AbortController().signal;
  const changed = (s: OtaState) => {
    options.onState?.(s);
    return s;
  };
  while (!signal.aborted) {
    let state = await slots.read();
    const trial = state.trial;
    if (trial && trial.boots >= trial.maxBoots) {
      state = changed(
        await rollback(slots, `it did not start: ${trial.boots} starts failed (crash loop)`, log),
      );
      continue;
    }
    const info = state.slots[state.active];
    if (!info) {
      log({ level: "error", msg: "nothing installed in the active slot", slot: state.active });
      await sleep(options.restartDelayMs ?? 1000, { signal });
      continue;
    }
    if (trial) state = changed(await countBoot(slots));
    await removeHealthReport(slots, log);
    const child = startProgram(slots, { slot: state.active, info, trial: !!trial }, options, log);
    if (!child) {
      if (!trial) await sleep(options.restartDelayMs ?? 1000, { signal });
      continue;
    }
    const stop = () => signalProgram(child, "SIGTERM", log);
    signal.addEventListener("abort", stop, { once: true });
    const exited = child.status;
    if (state.trial) {
      const goOn = await judgeTrial(slots, child, exited, state.trial, { signal, log, changed });
      if (!goOn) {
        signal.removeEventListener("abort", stop);
        continue;
      }
    }
    const status = await exited;
    signal.removeEventListener("abort", stop);
    if (signal.aborted) break;
    if (status.code === SWITCH_EXIT_CODE) continue;
    log({
      level: "warn",
      msg: "program exited; restarting",
      code: status.code,
      signal: status.signal,
    });
    await sleep(options.restartDelayMs ?? 1000, { signal });
  }
}

type Log = (l: Record<string, unknown>) => void;

/** Counts one more start of the version on trial, before it starts (so power cuts count). */
function countBoot(slots: OtaSlots): Promise<OtaState> {
  return slots.update((s) => ({
    ...s,
    trial: s.trial && { ...s.trial, boots: s.trial.boots + 1, bootAt: Date.now() },
  }));
}

/** Removes the health report of an earlier run. */
async function removeHealthReport(slots: OtaSlots, log: Log): Promise<void> {
  // A report of an earlier run must not count for this one; there is none after a clean stop.
  await Deno.remove(slots.healthFile).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return;
    // waitHealthy() still matches the report's pid, so an old one cannot pass for the new run.
    log({ level: "error", msg: "cannot remove the old health report", error: String(e) });
  });
}

/** Starts the program of the active slot; null (logged) when it cannot be started. */
function startProgram(
  slots: OtaSlots,
  { slot, info, trial }: { slot: SlotName; info: SlotInfo; trial: boolean },
  options: SupervisorOptions,
  log: Log,
): Deno.ChildProcess | null {
  const dir = slots.slotDir(slot);
  const command = info.command.startsWith("/") ? info.command : `${dir}/${info.command}`;
  log({
    level: "info",
    msg: "starting",
    slot,
    version: info.version,
    trial,
  });
  try {
    return new Deno.Command(command, {
      args: [...info.args],
      cwd: dir,
      env: {
        ...options.env,
        VEND_OTA_DIR: slots.dir,
        VEND_SLOT: slot,
        VEND_VERSION: info.version,
      },
      stdin: "null",
      stdout: options.output ?? "inherit",
      stderr: options.output ?? "inherit",
    }).spawn();
  } catch (e) {
    log({ level: "error", msg: "cannot start", error: String(e), command });
    return null;
  }
}

/** What {@link judgeTrial} needs of the supervisor's loop. */
interface TrialContext {
  readonly signal: AbortSignal;
  readonly log: Log;
  readonly changed: (s: OtaState) => OtaState;
}

/**
 * Waits for the version on trial to report healthy, exit or run out of its window, and records
 * the verdict. True when the program is to be waited for as usual; false when the loop goes on
 * to the next start (rolled back, or exited during its trial).
 */
async function judgeTrial(
  slots: OtaSlots,
  child: Deno.ChildProcess,
  exited: Promise<Deno.CommandStatus>,
  t: Trial,
  { signal, log, changed }: TrialContext,
): Promise<boolean> {
  const round = new AbortController();
  const within = AbortSignal.any([signal, round.signal]);
  const verdict = await Promise.race([
    exited.then((s) => ({ kind: "exited" as const, code: s.code })),
    waitHealthy(slots, t.version, child.pid, within, log).then(() => ({
      kind: "healthy" as const,
    })),
    sleep(t.healthWindowMs, { signal: within }).then(() => ({ kind: "timeout" as const })),
  ]);
  round.abort();
  if (verdict.kind === "healthy") {
    changed(
      await slots.update((s) => ({
        ...s,
        trial: null,
        last: {
          version: t.version,
          deploymentId: t.deploymentId,
          status: "healthy",
          reason: null,
          at: Date.now(),
          reported: false,
        },
      })),
    );
    log({ level: "info", msg: "new version healthy", version: t.version });
  } else if (verdict.kind === "timeout" && !signal.aborted) {
    await kill(child, log);
    changed(
      await rollback(
        slots,
        `it did not report healthy within ${t.healthWindowMs} ms`,
        log,
      ),
    );
    return false;
  } else if (verdict.kind === "exited") {
    log({ level: "warn", msg: "new version exited during its trial", code: verdict.code });
    return false; // counted as a failed boot at the next start
  }
  return true;
}

async function rollback(
  slots: OtaSlots,
  reason: string,
  log: (l: Record<string, unknown>) => void,
): Promise<OtaState> {
  const state = await slots.update((s) => {
    const t = s.trial!;
    const back: SlotName = otherSlot(t.slot);
    return {
      active: s.slots[back] ? back : s.active,
      slots: s.slots,
      trial: null,
      last: {
        version: t.version,
        deploymentId: t.deploymentId,
        status: "rolled_back",
        reason,
        at: Date.now(),
        reported: false,
      },
    };
  });
  log({ level: "error", msg: "rolled back", reason, to: state.slots[state.active]?.version });
  return state;
}

async function waitHealthy(
  slots: OtaSlots,
  version: string,
  pid: number,
  signal: AbortSignal,
  log: (l: Record<string, unknown>) => void,
): Promise<void> {
  let said = "";
  while (!signal.aborted) {
    try {
      const h = JSON.parse(await Deno.readTextFile(slots.healthFile)) as HealthReport;
      if (h.version === version && h.pid === pid) return;
    } catch (e) {
      // Not written yet, or not JSON (not this version's report). Anything else is logged
      // (once while it lasts) and the wait goes on: the health window still decides.
      if (!(e instanceof Deno.errors.NotFound || e instanceof SyntaxError) && String(e) !== said) {
        said = String(e);
        log({ level: "warn", msg: "cannot read the health report", error: said });
      }
    }
    await sleep(200, { signal });
  }
  // Stopped: the other racers decide; this one never resolves.
  await new Promise(() => {});
}

async function kill(
  child: Deno.ChildProcess,
  log: (l: Record<string, unknown>) => void,
): Promise<void> {
  signalProgram(child, "SIGTERM", log);
  const done = await Promise.race([child.status.then(() => true), sleep(3000).then(() => false)]);
  if (!done) {
    signalProgram(child, "SIGKILL", log);
    await child.status;
  }
}

/**
 * Sends `sig` to the program. One that has exited already needs none (Deno says so with a
 * TypeError); any other failure is logged, and the supervisor goes on.
 */
function signalProgram(
  child: Deno.ChildProcess,
  sig: Deno.Signal,
  log: (l: Record<string, unknown>) => void,
): void {
  try {
    child.kill(sig);
  } catch (e) {
    if (e instanceof TypeError && /already terminated/i.test(e.message)) return;
    log({ level: "error", msg: "cannot signal the program", signal: sig, error: String(e) });
  }
}
