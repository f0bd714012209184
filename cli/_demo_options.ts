/**
 * The flags of `./vend demo`, read and checked: a bad one ends the program with the usage and
 * exit code 2.
 *
 * @module
 */
import { parseArgs } from "node:util";

const USAGE =
  "Usage: ./vend demo [--duration SECONDS] [--machines N] [--session-every SECONDS] [--no-customer] [--regions N]";

/** Region ids of `--regions N` (2 or 3); one region is `local`, on a single server. */
const REGION_NAMES = ["eu-west", "us-east", "ap-south"];

/** What the demo's flags ask for. */
export interface DemoOptions {
  /** How long it runs (`--duration`, ms); until Ctrl-C when absent. */
  readonly durationMs: number | undefined;
  /** Simulated machines (`--machines`). */
  readonly machines: number;
  /** Seconds between the demo customer's sessions (`--session-every`). */
  readonly sessionEvery: number;
  /** True with `--no-customer`: the machines wait for people. */
  readonly noCustomer: boolean;
  /** Number of regions (`--regions`). */
  readonly regionCount: number;
  /** The regions' ids (`local` for one). */
  readonly regions: string[];
}

function fail(message: string, code = 2): never {
  console.error(`demo: ${message}\n${USAGE}`);
  Deno.exit(code);
}

function positive(
  name: string,
  value: string | undefined,
  fallback: number,
  integer = false,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    fail(`--${name} must be a positive ${integer ? "integer" : "number"}, got "${value}"`);
  }
  return n;
}

/** Reads the demo's flags from `args`; exits (code 2) on a bad one. */
export function parseDemoOptions(args: string[]): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        duration: { type: "string" },
        machines: { type: "string" },
        "session-every": { type: "string" },
        "no-customer": { type: "boolean" },
        regions: { type: "string" },
      },
      strict: true,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  const durationMs = values.duration === undefined
    ? undefined
    : positive("duration", values.duration, 0) * 1000;
  const machines = positive("machines", values.machines, 2, true);
  const sessionEvery = positive("session-every", values["session-every"], 20);
  if (values["no-customer"] && values["session-every"] !== undefined) {
    fail("--session-every is the demo customer's: it makes no sense with --no-customer");
  }
  if (machines > 50) fail(`--machines ${machines} is more than this demo runs (50)`);
  const regionCount = positive("regions", values.regions, 1, true);
  if (regionCount > REGION_NAMES.length) {
    fail(`--regions ${regionCount} is more than this demo runs (${REGION_NAMES.length})`);
  }
  const regions = regionCount === 1 ? ["local"] : REGION_NAMES.slice(0, regionCount);
  return {
    durationMs,
    machines,
    sessionEvery,
    noCustomer: values["no-customer"] ?? false,
    regionCount,
    regions,
  };
}
