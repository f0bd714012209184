/**
 * The machines route: each cabinet and the devices it holds, as the registry and the statuses
 * name them.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { FleetDeps, FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";

const listMachines = createRoute({
  method: "get",
  path: "/machines",
  tags: ["devices"],
  summary: "Machines: the devices of each cabinet",
  security,
  responses: {
    200: json(
      z.object({ items: z.array(z.object({ id: z.string(), devices: z.array(z.string()) })) }),
      "Machines",
    ),
    ...problemResponses,
  },
});

/** The machines route (`GET /machines`), read from `deps.state`'s replicas. */
export function machinesApi(deps: FleetDeps): OpenAPIHono<FleetEnv> {
  const { state } = deps;
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(listMachines, async (c) => {
    await need(c, deps, "viewer", "machine.list", "machines");
    const machines = new Map<string, Set<string>>();
    const add = (m: string, d: string) => machines.set(m, (machines.get(m) ?? new Set()).add(d));
    for (const [id, e] of state.devices.entries()) add(e.value.machineId, id);
    for (const [id, e] of state.statuses.entries()) add(e.value.machineId, id);
    const items = [...machines].sort(([a], [b]) => a.localeCompare(b)).map(([id, d]) => ({
      id,
      devices: [...d].sort(),
    }));
    return c.json({ items }, 200);
  });
  return app;
}
