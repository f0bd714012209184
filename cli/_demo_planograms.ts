/**
 * The demo's operator writes each machine's planogram (the simulated cabinet's standard one)
 * through the API, and waits until each machine's primary decides by it: the simulated
 * restocker then fills the shelves by it.
 *
 * @module
 */
import { standardSlots } from "../edge/sim/mod.ts";
import type { SlotAssignment } from "../protocol/mod.ts";
import { sleep } from "../runtime/mod.ts";
import type { DemoApi } from "./_demo_api.ts";

/** Writes each of `ids`' planogram (`slots`, default the standard one) and waits for its use. */
export async function stockMachines(
  api: DemoApi,
  ids: readonly string[],
  options: {
    slots?: readonly SlotAssignment[];
    /** The API of the machine's home region (which reads its devices' shadows). Default the main one. */
    apiOf?: (machineId: string) => string | undefined;
    timeoutMs?: number;
    signal?: AbortSignal;
  } = {},
): Promise<void> {
  const slots = options.slots ?? standardSlots();
  const written = new Map<string, number>();
  for (const id of ids) {
    const p = await api.put(`/machines/${id}/planogram`, { slots });
    written.set(id, p.version as number);
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (const id of ids) {
    for (;;) {
      const p = await api.get(`/machines/${id}/planogram`, options.apiOf?.(id));
      const primary = (p?.devices ?? []).find((d: { deviceId: string }) =>
        d.deviceId === `${id}-a`
      );
      if ((primary?.inUse ?? 0) >= written.get(id)!) break;
      if (Date.now() > deadline) {
        // Refused (the errors say why), or not heard in time.
        throw new Error(
          `${id}-a did not take planogram version ${written.get(id)} in time: ${
            JSON.stringify(primary?.errors ?? [])
          }`,
        );
      }
      await sleep(200, options.signal ? { signal: options.signal } : {});
    }
  }
}
