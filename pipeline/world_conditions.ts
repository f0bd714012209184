/**
 * A world harder than the training set: conditions real cabinets show that the training data
 * never does (models/dataset.ts renders none of them), drawn per scenario from its seed. The
 * evaluation's hard world (`./vend eval --live --hard`) plays them, so that what the model was
 * not taught is measured, and a model cannot be tuned to it.
 *
 * - `siteLighting`: another site's light (warm lamps, cold LEDs, a dim site lit from one side).
 * - `knockedCamera`: one camera shifted a few pixels and turned a few degrees after it was
 *   calibrated.
 * - `takeAndReturn`: the shopper takes a unit out and puts it back (nothing to charge for it).
 * - `twoHands`: a second hand takes a unit while the first is still in the cabinet.
 * - `partlyOpenDoor`: the door opens partly: less light, and its glass over the shelves beyond
 *   its edge.
 *
 * @example
 * ```ts
 * import { randomScenario } from "./scenario.ts";
 * import { applyWorld, HARD_WORLD } from "./world_conditions.ts";
 *
 * const scenario = applyWorld(randomScenario(7), HARD_WORLD);
 * console.log(scenario.world); // e.g. ["knocked_camera", "two_hands"]
 * ```
 *
 * @module
 */
import {
  type CameraPose,
  HAND_MOVE_MS,
  type HandAction,
  prng,
  type Scenario,
  type SiteLight,
} from "./scenario.ts";
import { slotBox } from "./synthetic_camera.ts";

/** How often each condition appears: a probability per scenario, 0..1 (default 0). */
export interface WorldConditions {
  /** Another site's light. */
  readonly siteLighting?: number;
  /** A camera knocked off the pose it was calibrated at. */
  readonly knockedCamera?: number;
  /** A unit taken and put back in the same session. */
  readonly takeAndReturn?: number;
  /** Two hands in the cabinet at once. */
  readonly twoHands?: number;
  /** A door opened only partly. */
  readonly partlyOpenDoor?: number;
}

/** Names of the conditions, as {@link Scenario.world} lists them. */
export const WORLD_CONDITION_NAMES = {
  siteLighting: "site_lighting",
  knockedCamera: "knocked_camera",
  takeAndReturn: "take_and_return",
  twoHands: "two_hands",
  partlyOpenDoor: "partly_open_door",
} as const satisfies Record<keyof WorldConditions, string>;

/** The evaluation's hard world: each condition in about a third of the scenarios. */
export const HARD_WORLD: WorldConditions = {
  siteLighting: 0.3,
  knockedCamera: 0.3,
  takeAndReturn: 0.3,
  twoHands: 0.3,
  partlyOpenDoor: 0.3,
};

/** Lighting profiles of other sites: colour times brightness, and a lamp's slope. */
const SITES: readonly SiteLight[] = [
  { tint: [1.08, 0.94, 0.76], slope: 0 }, // warm lamps
  { tint: [0.88, 0.98, 1.12], slope: 0 }, // cold LEDs
  { tint: [0.78, 0.78, 0.8], slope: 0.3 }, // a dim site lit from one side
];

/** `p` as a probability (undefined: 0); a `RangeError` naming `name` when it is not one. */
export function checkProbability(name: string, p: number | undefined): number {
  if (p === undefined) return 0;
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
    throw new RangeError(`Invalid ${name} probability ${p}: expected 0..1`);
  }
  return p;
}

/** Gap between the actions of one hand, ms (it withdraws before it reaches in again). */
const STEP_MS = 2 * HAND_MOVE_MS + 300;

/**
 * `scenario` with the world's conditions drawn from its seed as `conditions` say (each one
 * named in `world`), its truth changed with it (a second hand's take is in the cart). Draws
 * from a stream of its own: the scenario's other random choices stay as they were. A scenario
 * of one door session only.
 */
export function applyWorld(scenario: Scenario, conditions: WorldConditions): Scenario {
  const p = Object.fromEntries(
    Object.keys(WORLD_CONDITION_NAMES).map((k) => [
      k,
      checkProbability(k, conditions[k as keyof WorldConditions]),
    ]),
  ) as Required<WorldConditions>;
  if (scenario.sessions.length !== 1) {
    throw new RangeError(
      `Cannot apply world conditions to scenario ${scenario.seed}: it has ${scenario.sessions.length} door sessions, expected 1`,
    );
  }
  const rand = prng((scenario.seed ^ 0x3f1d_0c0d) >>> 0);
  // Every condition draws, applied or not, so that one's probability does not move another's.
  const draws = {
    takeAndReturn: rand(),
    twoHands: rand(),
    partlyOpenDoor: rand(),
    siteLighting: rand(),
    knockedCamera: rand(),
  };
  const world: string[] = [];
  let s: Scenario = scenario;
  const session = s.sessions[0]!;
  let closeAt = session.closeAt;
  const actions: HandAction[] = [...s.actions];
  const lastAt = () => Math.max(session.openAt + 400, ...actions.map((a) => a.at));
  /** Stocked slots never left without a unit (one more can be taken at any moment). */
  const spare = () => {
    const stock = s.shelves.map((row) => row.map((slot) => (slot.sku ? slot.stock : 0)));
    const least = stock.map((row) => [...row]);
    for (const a of sorted(actions)) {
      const units = stock[a.shelf]![a.slot]! += a.kind === "take" ? -1 : 1;
      least[a.shelf]![a.slot] = Math.min(least[a.shelf]![a.slot]!, units);
    }
    return s.shelves.flatMap((row, shelf) =>
      row.flatMap((slot, k) =>
        slot.sku !== null && least[shelf]![k]! >= 1 ? [{ shelf, slot: k, sku: slot.sku }] : []
      )
    );
  };
  if (draws.takeAndReturn < p.takeAndReturn) {
    const slots = spare();
    if (slots.length > 0) {
      const slot = slots[Math.floor(rand() * slots.length)]!;
      const at = lastAt() + STEP_MS;
      actions.push({ kind: "take", ...slot, at }, { kind: "return", ...slot, at: at + STEP_MS });
      closeAt = Math.max(closeAt, at + STEP_MS + HAND_MOVE_MS + 400);
      world.push(WORLD_CONDITION_NAMES.takeAndReturn);
    }
  }
  if (draws.twoHands < p.twoHands) {
    const first = actions.find((a) => a.kind === "take");
    const slots = first
      ? spare().filter((x) => x.shelf !== first.shelf || x.slot !== first.slot)
      : [];
    if (first && slots.length > 0) {
      const slot = slots[Math.floor(rand() * slots.length)]!;
      actions.push({ kind: "take", ...slot, at: first.at + 250, hand: 1 });
      world.push(WORLD_CONDITION_NAMES.twoHands);
    }
  }
  const durationMs = s.durationMs + (closeAt - session.closeAt);
  s = { ...s, actions: sorted(actions), sessions: [{ ...session, closeAt }], durationMs };
  if (draws.partlyOpenDoor < p.partlyOpenDoor) {
    // The shopper reaches only past the open part: the edge stands beyond every slot touched.
    const reach = Math.max(0.52, ...s.actions.map((a) => slotBox(s, a.shelf, a.slot).x1 + 0.03));
    if (reach <= 0.9) {
      const door = { opening: 0.35 + rand() * 0.3, edge: reach + rand() * (0.92 - reach) };
      s = { ...s, door };
      world.push(WORLD_CONDITION_NAMES.partlyOpenDoor);
    }
  }
  if (draws.siteLighting < p.siteLighting) {
    const site = SITES[Math.floor(rand() * SITES.length)]!;
    s = { ...s, site: { ...site, slope: rand() < 0.5 ? -site.slope : site.slope } };
    world.push(WORLD_CONDITION_NAMES.siteLighting);
  }
  if (draws.knockedCamera < p.knockedCamera) {
    const k = Math.floor(rand() * s.cameras.length);
    const off = () => (rand() < 0.5 ? -1 : 1) * (0.006 + rand() * 0.012);
    const cameras: CameraPose[] = s.cameras.map((c, i) =>
      i === k
        ? { ...c, x: c.x + off(), y: c.y + off(), roll: (rand() < 0.5 ? -1 : 1) * (1 + rand() * 2) }
        : c
    );
    s = { ...s, cameras };
    world.push(WORLD_CONDITION_NAMES.knockedCamera);
  }
  return world.length > 0 ? { ...s, world } : scenario;
}

function sorted(actions: readonly HandAction[]): HandAction[] {
  return [...actions].sort((a, b) => a.at - b.at);
}
