/**
 * The fleet page's query (filters, sort, page) from the URL, and the view it asks for, aggregated
 * and paged on the server from the fleet's replicas: only the page's rows leave it. Imported only
 * by the fleet page.
 *
 * @module
 */
import type { Context } from "hono";
import type { DeviceStatus } from "../fleet/mod.ts";
import type { FleetDeps } from "../http/mod.ts";
import { PAGE_SIZE } from "./_dashboard_kit.tsx";

/** What the fleet page shows: filters, sort and page, each checked. */
export interface FleetQuery {
  status: string;
  region: string;
  version: string;
  sort: "id" | "status" | "lastSeen";
  page: number;
}

/** The query in the request's URL; a value that is not one the page offers reads as none. */
export function fleetQuery(c: Context): FleetQuery {
  const status = c.req.query("status") ?? "";
  const region = c.req.query("region") ?? "";
  const version = c.req.query("version") ?? "";
  const sort = c.req.query("sort");
  const page = Number(c.req.query("page") ?? "0");
  return {
    status: ["online", "offline", "unknown"].includes(status) ? status : "",
    region: /^[a-z0-9][a-z0-9-]{0,62}$/.test(region) ? region : "",
    version: /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(version) ? version : "",
    sort: sort === "status" || sort === "lastSeen" ? sort : "id",
    page: Number.isInteger(page) && page >= 0 && page < 100_000 ? page : 0,
  };
}

/** The counts of the whole fleet, the page's rows of the filtered one, and the newest alerts. */
export interface FleetView {
  counts: {
    status: Record<string, number>;
    region: Record<string, number>;
    version: Record<string, number>;
  };
  rows: Array<
    {
      id: string;
      status: string;
      region: string;
      version: string;
      door: string;
      lastSeen: number | null;
    }
  >;
  total: number;
  alerts: Array<{ deviceId: string; kind: string; message: string; severity: string }>;
}

/** Aggregates and pages the fleet on the server: only the page's rows leave it. */
export function fleetView(deps: FleetDeps, q: FleetQuery): FleetView {
  const counts = {
    status: { online: 0, offline: 0, unknown: 0 } as Record<string, number>,
    region: {} as Record<string, number>,
    version: {} as Record<string, number>,
  };
  const all: FleetView["rows"] = [];
  const seen = new Set<string>();
  const add = (id: string, s: DeviceStatus | undefined, region: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const status = s?.status ?? "unknown";
    counts.status[status] = (counts.status[status] ?? 0) + 1;
    counts.region[region] = (counts.region[region] ?? 0) + 1;
    if (s) counts.version[s.appVersion] = (counts.version[s.appVersion] ?? 0) + 1;
    if (
      (q.status && status !== q.status) || (q.region && region !== q.region) ||
      (q.version && (s?.appVersion ?? "") !== q.version)
    ) return;
    all.push({
      id,
      status,
      region,
      version: s?.appVersion ?? "",
      door: s?.door ?? "unknown",
      lastSeen: s?.lastSeen ?? null,
    });
  };
  for (const [id, e] of deps.state.statuses.entries()) add(id, e.value, e.value.region);
  for (const [id, e] of deps.state.devices.entries()) add(id, undefined, e.value.region);
  const order = { online: 0, offline: 1, unknown: 2 } as Record<string, number>;
  all.sort((a, b) =>
    q.sort === "status"
      ? (order[a.status]! - order[b.status]!) || a.id.localeCompare(b.id)
      : q.sort === "lastSeen"
      ? (b.lastSeen ?? 0) - (a.lastSeen ?? 0) || a.id.localeCompare(b.id)
      : a.id.localeCompare(b.id)
  );
  const alerts = [...deps.state.raised.entries()].map(([, e]) => e.value).sort((a, b) =>
    b.since - a.since
  ).slice(0, 20);
  return {
    counts,
    rows: all.slice(q.page * PAGE_SIZE, (q.page + 1) * PAGE_SIZE),
    total: all.length,
    alerts,
  };
}
