/**
 * The dashboard's fleet page (`/`): counts by status, region and version, a sortable, filterable,
 * paginated device table, alerts, and every region's counts when the instance has the regions'
 * summaries; kept live (`/live/`) from the status and alert replicas.
 *
 * @module
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import type { RegionView } from "../fleet/mod.ts";
import type { FleetDeps, FleetEnv } from "../http/mod.ts";
import {
  actorOf,
  Layout,
  live,
  LIVE_SCRIPT,
  PAGE_SIZE,
  requireSession,
} from "./_dashboard_kit.tsx";
import { type FleetQuery, fleetQuery, type FleetView, fleetView } from "./_fleet_view.ts";

const Counts: FC<{ v: FleetView }> = ({ v }) => (
  <div class="counts" id="counts">
    {Object.entries(v.counts.status).map(([k, n]) => (
      <div class="card">
        <b class={k} data-count={k}>{n}</b>
        {k}
      </div>
    ))}
    {Object.entries(v.counts.region).map(([k, n]) => (
      <a class="card" href={`/?region=${encodeURIComponent(k)}`} data-region={k}>
        <b>{n}</b>region {k}
      </a>
    ))}
    {Object.entries(v.counts.version).map(([k, n]) => (
      <a class="card" href={`/?version=${encodeURIComponent(k)}`} data-version={k}>
        <b>{n}</b>version {k}
      </a>
    ))}
  </div>
);

/** Every region's counts: this one live, the others from their summaries (stale when old). */
const Regions: FC<{ items: readonly RegionView[] }> = ({ items }) => (
  <table id="regions">
    <thead>
      <tr>
        <th>Region</th>
        <th>Devices</th>
        <th>Online</th>
        <th>Home regions</th>
        <th>As of</th>
      </tr>
    </thead>
    <tbody>
      {items.map((r) => (
        <tr data-region-row={r.region} class={r.stale ? "stale" : ""}>
          <td>{r.region}</td>
          <td data-devices>{r.devices}</td>
          <td data-online>{r.online}</td>
          <td>
            {Object.entries(r.homes).map(([home, n]) => `${home}: ${n.online}/${n.devices}`).join(
              ", ",
            )}
          </td>
          <td data-source={r.source}>
            {r.source === "live" ? "live" : new Date(r.at).toISOString().slice(11, 19)}
            {r.stale ? " (stale: not heard from lately)" : ""}
          </td>
        </tr>
      ))}
    </tbody>
  </table>
);

const Rows: FC<{ v: FleetView }> = ({ v }) => (
  <tbody id="rows">
    {v.rows.map((r) => (
      <tr data-device={r.id}>
        <td>
          <a href={`/devices/${r.id}`}>{r.id}</a>
        </td>
        <td class={r.status} data-status>{r.status}</td>
        <td>{r.region}</td>
        <td>{r.version}</td>
        <td data-door>{r.door}</td>
        <td>{r.lastSeen ? new Date(r.lastSeen).toISOString().slice(11, 19) : "-"}</td>
      </tr>
    ))}
  </tbody>
);

const Alerts: FC<{ v: FleetView }> = ({ v }) => (
  <ul class="alerts" id="alerts">
    {v.alerts.length === 0
      ? <li style="color:#888">No alerts</li>
      : v.alerts.map((a) => (
        <li key={`${a.kind}.${a.deviceId}`}>{a.severity}: {a.deviceId} {a.kind}: {a.message}</li>
      ))}
  </ul>
);

/** The fleet page's link with `patch` applied to its query. */
function fleetLink(q: FleetQuery, patch: Partial<FleetQuery>): string {
  const next = { ...q, ...patch };
  const p = new URLSearchParams();
  if (next.status) p.set("status", next.status);
  if (next.region) p.set("region", next.region);
  if (next.version) p.set("version", next.version);
  if (next.sort !== "id") p.set("sort", next.sort);
  if (next.page) p.set("page", String(next.page));
  return `/?${p}`;
}

/** The fleet page (`/`) and its live stream (`/live/`). */
export function fleetDashboard(deps: FleetDeps): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();

  app.get("/", (c) => {
    const refused = requireSession(c);
    if (refused) return refused;
    const q = fleetQuery(c);
    const v = fleetView(deps, q);
    const link = (patch: Partial<FleetQuery>) => fleetLink(q, patch);
    return c.html(
      <Layout title="Fleet" user={`${actorOf(c)!.subject} (${actorOf(c)!.role})`}>
        <h1>Fleet</h1>
        <Counts v={v} />
        <p>
          {q.region || q.version
            ? (
              <>
                Showing {q.region ? `region ${q.region}` : ""}{" "}
                {q.version ? `version ${q.version}` : ""}{" "}
                (<a href={link({ region: "", version: "", page: 0 })}>every region and version</a>)
                ·{" "}
              </>
            )
            : null}
          Filter: <a href={link({ status: "", page: 0 })}>all</a> ·{" "}
          <a href={link({ status: "online", page: 0 })}>online</a> ·{" "}
          <a href={link({ status: "offline", page: 0 })}>offline</a> ·{" "}
          <a href={link({ status: "unknown", page: 0 })}>unknown</a>
        </p>
        <table>
          <thead>
            <tr>
              <th>
                <a href={link({ sort: "id" })}>Device</a>
              </th>
              <th>
                <a href={link({ sort: "status" })}>Status</a>
              </th>
              <th>Region</th>
              <th>Version</th>
              <th>Door</th>
              <th>
                <a href={link({ sort: "lastSeen" })}>Last seen</a>
              </th>
            </tr>
          </thead>
          <Rows v={v} />
        </table>
        <p>
          {q.page > 0 ? <a href={link({ page: q.page - 1 })}>previous</a> : null} page {q.page + 1}
          {" "}
          of {Math.max(1, Math.ceil(v.total / PAGE_SIZE))}{" "}
          {(q.page + 1) * PAGE_SIZE < v.total
            ? <a href={link({ page: q.page + 1 })}>next</a>
            : null}
        </p>
        <h2>Alerts</h2>
        <Alerts v={v} />
        {deps.summaries
          ? (
            <>
              <h2>Regions</h2>
              <Regions items={deps.summaries.list()} />
            </>
          )
          : null}
        <script dangerouslySetInnerHTML={{ __html: LIVE_SCRIPT }} />
      </Layout>,
    );
  });

  app.get("/live/", (c) => {
    if (!actorOf(c)) return c.body(null, 401);
    const q = fleetQuery(c);
    return live(c, async () => {
      const v = fleetView(deps, q);
      return {
        counts: await (<Counts v={v} />).toString(),
        rows: await (<Rows v={v} />).toString(),
        alerts: await (<Alerts v={v} />).toString(),
        ...(deps.summaries
          ? { regions: await (<Regions items={deps.summaries.list()} />).toString() }
          : {}),
      };
    }, (dirty) => {
      const a = deps.state.statuses.onChange(dirty);
      const b = deps.state.raised.onChange(dirty);
      return () => {
        a();
        b();
      };
    });
  });
  return app;
}
