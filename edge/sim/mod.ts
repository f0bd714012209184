/**
 * Simulations, named as such: a simulated cabinet (door, lock, LED, cameras, a shopper), a simulated
 * update device, and the link that lets a cabinet's two simulated devices film one scene.
 *
 * @example
 * ```ts
 * import { SimulatedScene } from "./mod.ts";
 *
 * const scene = new SimulatedScene({ machineId: "m001", seed: 1 });
 * console.log(scene);
 * ```
 *
 * @module
 */
export { linkScene, type SceneLinkOptions } from "./scene_link.ts";
export { newProduct } from "./new_product.ts";
export { SimulatedHardware } from "./simulated_hardware.ts";
export {
  standardSlots,
  stockScenario,
  type WorldDeviations,
  type WorldStocking,
} from "./world_stocking.ts";
export {
  HARD_DEVIATIONS,
  shoppingScenario,
  type SimulatedWorld,
  simulatedWorld,
  WORLD_NAMES,
  type WorldName,
} from "./simulated_world.ts";
export {
  type CartDecider,
  type CartDecision,
  GroundTruthCartDecider,
  type SceneState,
  SimulatedScene,
  SimulatedShopper,
} from "./simulated_machine.ts";
export {
  SimulatedUpdateDevice,
  type SimulatedUpdateDeviceOptions,
} from "./simulated_update_device.ts";
