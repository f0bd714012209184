/**
 * The worlds a simulated cabinet can film, by name: `clean` (the training set's kind of scenes)
 * and `hard` (the conditions real cabinets show that training never does, and a restocker who
 * strays from the planogram), and the one recipe of the scenario a shopping session plays, so
 * that the cabinet and an evaluator's truth are drawn alike. Simulation only.
 *
 * @example
 * ```ts
 * import { shoppingScenario, simulatedWorld } from "./simulated_world.ts";
 * import { standardSlots } from "./world_stocking.ts";
 *
 * const world = simulatedWorld("hard");
 * const { scenario, deviations } = shoppingScenario(2000001, {
 *   machineId: "m001",
 *   slots: standardSlots(),
 *   ...world,
 * });
 * console.log(scenario.world, deviations);
 * ```
 *
 * @module
 */
import {
  applyWorld,
  HARD_WORLD,
  type Product,
  randomScenario,
  type Scenario,
  type SkuAssignment,
  standardCameras,
  type WorldConditions,
} from "../../pipeline/mod.ts";
import { stockScenario, type WorldDeviations } from "./world_stocking.ts";

/** The names of the simulated worlds. */
export const WORLD_NAMES = ["clean", "hard"] as const;

/** A simulated world's name. */
export type WorldName = typeof WORLD_NAMES[number];

/** What makes a world: its conditions and how its restocker strays. */
export interface SimulatedWorld {
  /** Conditions beyond the training set. */
  readonly world?: WorldConditions;
  /** Deviations from the machine's planogram. */
  readonly deviations?: WorldDeviations;
  /** Products it holds that no catalogue does (newly stocked, see `new_product.ts`). */
  readonly products?: readonly Product[];
}

/** How the evaluation's hard world strays: a swapped pair or an empty slot in 1 of 20 each. */
export const HARD_DEVIATIONS: WorldDeviations = { wrongSlot: 0.05, emptySlot: 0.05 };

/** The world called `name`; a `TypeError` naming the choices for any other name. */
export function simulatedWorld(name: string): SimulatedWorld {
  if (name === "clean") return {};
  if (name === "hard") return { world: HARD_WORLD, deviations: HARD_DEVIATIONS };
  throw new TypeError(`Unknown world "${name}": expected one of ${WORLD_NAMES.join(", ")}`);
}

/**
 * The scenario of `seed` as the simulated cabinet of `machineId` films it: its shelves stocked
 * by `slots` (a planogram's; none: the seed's own shelves) straying as `deviations` say, and
 * `world`'s conditions unless `atRest` (the cabinet as installed and calibrated). Also what
 * the deviations were, in words.
 */
export function shoppingScenario(
  seed: number,
  options: SimulatedWorld & {
    machineId: string;
    slots?: readonly SkuAssignment[];
    atRest?: boolean;
  },
): { scenario: Scenario; deviations: string[] } {
  const drawn = randomScenario(seed, { cameras: standardCameras(options.machineId) });
  const stocked = options.slots
    ? stockScenario(drawn, {
      slots: options.slots,
      ...(options.deviations ? { deviations: options.deviations } : {}),
      ...(options.products ? { products: options.products } : {}),
    })
    : { scenario: drawn, deviations: [] };
  const scenario = options.world && !options.atRest
    ? applyWorld(stocked.scenario, options.world)
    : stocked.scenario;
  return { scenario, deviations: stocked.deviations };
}
