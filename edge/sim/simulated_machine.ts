/**
 * A simulated cabinet for the demo and the tests: the scene the synthetic cameras film, a
 * shopper who opens the door after an unlock, takes and returns products and closes it, and a
 * cart decider that reports the scene's ground truth. All three are simulations, named as such:
 * the real cart comes from the recognition model (models/), the real door from the hardware.
 *
 * @module
 */
import {
  applyWorld,
  createFrame,
  type Frame,
  type Product,
  randomScenario,
  renderView,
  type Scenario,
  scenarioTruth,
  type WorldConditions,
} from "../../pipeline/mod.ts";
import { shoppingScenario } from "./simulated_world.ts";
import type { SimulatedHardware } from "./simulated_hardware.ts";
import { stockScenario, type WorldDeviations, type WorldStocking } from "./world_stocking.ts";
import type { SessionEvidence, SkuAssignment } from "../../pipeline/mod.ts";
import { sleep } from "../../runtime/mod.ts";

/** What a door session's cart decision produces. */
export interface CartDecision {
  /** What was taken, net of returns. */
  readonly cart: Array<{ sku: string; qty: number }>;
  /** Confidence in the whole cart, 0..1. */
  readonly confidence: number;
  /** Why the session needs a human, if it does. */
  readonly reviewReasons: string[];
  /** Version of the model that decided. */
  readonly modelVersion: string;
  /** What each slot showed before and after, and where it was cut (a recognizer's). */
  readonly evidence?: SessionEvidence;
}

/** Decides the cart of a door session. */
export interface CartDecider {
  /** The door opened (device clock, ms): a decider that watches the session starts here. */
  open?(session: { sessionId: string; openedAt: number }): void;
  /** The cart of the session that ran from `openedAt` to `closedAt` (device clock, ms). */
  decide(session: { sessionId: string; openedAt: number; closedAt: number }): Promise<CartDecision>;
  /** Cameras that moved or see another light since calibration, as last measured (for the log). */
  cameraMotion?(): Record<
    string,
    { dx: number; dy: number; roll: number; gain: readonly number[] }
  >;
}

/** Which scenario a scene films and since when (device clock, ms). */
export interface SceneState {
  readonly seed: number;
  readonly startedAt: number;
  /** How the shelves are stocked (by the machine's planogram); default the seed's own shelves. */
  readonly stocking?: WorldStocking;
  /** The conditions of a world harder than the training set; default none. */
  readonly world?: WorldConditions;
}

/** The scene in the simulated cabinet: one scenario per shopping session. */
export class SimulatedScene {
  #scenario: Scenario;
  #startedAt: number;
  #seed: number;
  #stocking: WorldStocking | undefined;
  readonly #deviations: WorldDeviations | undefined;
  readonly #products: readonly Product[] | undefined;
  #world: WorldConditions | undefined;
  /** No shopping session yet: the cabinet as installed and calibrated. */
  #atRest = true;
  readonly #now: () => number;
  readonly #listeners = new Set<(s: SceneState) => void>();

  /**
   * Creates the scene; `seed` seeds the first scenario, later ones follow. Once stocked from a
   * planogram ({@link stock}), the world strays from it as `deviations` say; each shopping
   * session's scenario has `world`'s conditions (the cabinet at rest, as it was installed and
   * calibrated, has none).
   */
  constructor(
    options: {
      seed?: number;
      machineId?: string;
      now?: () => number;
      deviations?: WorldDeviations;
      world?: WorldConditions;
      /** Products the world holds that no catalogue does (newly stocked). */
      products?: readonly Product[];
    } = {},
  ) {
    this.#seed = options.seed ?? 1;
    this.#deviations = options.deviations;
    this.#products = options.products;
    this.#world = options.world;
    this.#now = options.now ?? (() => Date.now());
    this.machineId = options.machineId ?? "m001";
    this.#scenario = this.#make(this.#seed, { atRest: true });
    this.#startedAt = this.#now() - this.#scenario.durationMs; // at rest: the last frame of a finished scenario
  }

  /**
   * The scenario of `seed`, its shelves stocked as the scene's stocking says, with the world's
   * conditions unless the cabinet is `atRest` as installed.
   */
  #make(seed: number, options: { atRest?: boolean } = {}): Scenario {
    return shoppingScenario(seed, {
      machineId: this.machineId,
      ...(this.#stocking ? this.#stocking : {}),
      ...(this.#world ? { world: this.#world } : {}),
      ...(options.atRest ? { atRest: true } : {}),
    }).scenario;
  }

  #announce(): void {
    for (const listener of this.#listeners) {
      listener({
        seed: this.#seed,
        startedAt: this.#startedAt,
        ...(this.#stocking ? { stocking: this.#stocking } : {}),
        // At rest the cabinet is as installed; the world's conditions come with the shoppers.
        ...(this.#world && !this.#atRest ? { world: this.#world } : {}),
      });
    }
  }

  /**
   * A simulated restocker fills the shelves with the planogram's `slots`, straying from it as the
   * scene's deviations say, from now on (the scenario filmed is stocked again at once: call it
   * with the door closed). The other device follows.
   */
  stock(slots: readonly SkuAssignment[]): void {
    const stocking: WorldStocking = {
      slots: slots.map(({ shelf, slot, sku }) => ({ shelf, slot, sku })),
      ...(this.#deviations ? { deviations: this.#deviations } : {}),
      ...(this.#products ? { products: this.#products } : {}),
    };
    stockScenario(this.#scenario, stocking); // refuses what the world cannot show, first
    this.#stocking = stocking;
    this.#scenario = this.#make(this.#seed, { atRest: this.#atRest });
    this.#announce();
  }

  /** Machine the scene belongs to. */
  readonly machineId: string;

  /** The current scenario and when it started (device clock). */
  get current(): { scenario: Scenario; startedAt: number } {
    return { scenario: this.#scenario, startedAt: this.#startedAt };
  }

  /** Starts a new shopping scenario whose door opens `openInMs` from now. */
  startSession(openInMs: number): Scenario {
    this.#seed++;
    this.#atRest = false;
    this.#scenario = this.#make(this.#seed);
    this.#startedAt = this.#now() + openInMs - this.#scenario.sessions[0]!.openAt;
    this.#announce();
    return this.#scenario;
  }

  /**
   * Calls `listener` with each new scenario's seed and start (device clock), for another scene
   * to {@link follow}; returns the function that stops it.
   */
  onSession(listener: (s: SceneState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Films the scenario another scene started (the secondary device of a simulated cabinet
   * follows its primary's scene, so all the cabinet's cameras see the same shelves).
   */
  follow(state: SceneState): void {
    if (
      !Number.isInteger(state.seed) || !Number.isFinite(state.startedAt) ||
      (state.stocking !== undefined && !Array.isArray(state.stocking?.slots)) ||
      (state.world !== undefined && (typeof state.world !== "object" || state.world === null))
    ) {
      throw new TypeError(`Invalid scene state ${JSON.stringify(state).slice(0, 200)}`);
    }
    try {
      if (state.stocking) stockScenario(this.#scenario, state.stocking);
      if (state.world) applyWorld(randomScenario(state.seed), state.world);
    } catch (cause) {
      throw new TypeError(`Invalid scene state: its stocking or world cannot be shown`, { cause });
    }
    this.#seed = state.seed;
    this.#stocking = state.stocking;
    this.#world = state.world;
    this.#atRest = false;
    this.#scenario = this.#make(state.seed);
    this.#startedAt = state.startedAt;
  }

  /** A synthetic camera filming the scene live, at `fps`, until the signal aborts. */
  camera(
    cameraId: string,
    options: { deviceId: string; width: number; height: number; fps: number; signal: AbortSignal },
  ): ReadableStream<Frame> {
    let seq = 0;
    const period = 1000 / options.fps;
    let next = this.#now();
    return new ReadableStream<Frame>({
      pull: async (controller) => {
        if (options.signal.aborted) return controller.close();
        const wait = next - this.#now();
        if (wait > 0) await sleep(wait, { signal: options.signal });
        if (options.signal.aborted) return controller.close();
        next = Math.max(next + period, this.#now() - period);
        const ts = this.#now();
        const { scenario, startedAt } = this.current;
        const t = Math.max(0, Math.min(ts - startedAt, scenario.durationMs));
        const data = renderView(scenario, cameraId, t, {
          width: options.width,
          height: options.height,
        });
        controller.enqueue(createFrame({
          cameraId,
          deviceId: options.deviceId,
          seq: seq++,
          ts,
          width: options.width,
          height: options.height,
          format: "rgba",
          data,
        }));
      },
    }, new CountQueuingStrategy({ highWaterMark: 0 }));
  }
}

/**
 * A simulated shopper: after each unlock of the simulated lock, opens the door, acts out a new
 * scenario of the scene (the cameras film it), and closes the door.
 */
export class SimulatedShopper {
  readonly #hardware: SimulatedHardware;
  readonly #scene: SimulatedScene;
  #seen = 0;

  /** Creates the shopper for a cabinet. */
  constructor(hardware: SimulatedHardware, scene: SimulatedScene) {
    this.#hardware = hardware;
    this.#scene = scene;
  }

  /** Watches for unlocks until the signal aborts (a session under way is left where it is). */
  async run(signal: AbortSignal): Promise<void> {
    this.#seen = this.#hardware.unlocks.length;
    while (!signal.aborted) {
      await sleep(50, { signal });
      if (this.#hardware.unlocks.length === this.#seen || this.#hardware.door.state === "open") {
        continue;
      }
      this.#seen = this.#hardware.unlocks.length;
      // The new scenario's shelves are in view a second before the door opens (the cameras
      // see the cabinet at rest, as recognition needs).
      const scenario = this.#scene.startSession(1000);
      const session = scenario.sessions[0]!;
      await sleep(1000, { signal });
      if (signal.aborted) return;
      this.#hardware.setDoor("open");
      await sleep(session.closeAt - session.openAt, { signal });
      if (signal.aborted) return;
      this.#hardware.setDoor("closed");
    }
  }
}

/** A cart decider that reads the simulated scene's ground truth (for demos and tests that must know the cart). */
export class GroundTruthCartDecider implements CartDecider {
  readonly #scene: SimulatedScene;

  /** Creates the decider for a scene. */
  constructor(scene: SimulatedScene) {
    this.#scene = scene;
  }

  decide(): Promise<CartDecision> {
    const truth = scenarioTruth(this.#scene.current.scenario);
    const cart = [...(truth.carts[0] ?? new Map()).entries()].map(([sku, qty]) => ({ sku, qty }));
    return Promise.resolve({
      cart,
      confidence: 0.99,
      reviewReasons: [],
      modelVersion: "simulated-ground-truth",
    });
  }
}
