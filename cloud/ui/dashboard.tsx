/**
 * The live operations dashboard: server-rendered pages (hono/jsx) kept live over Server-Sent
 * Events fed by the fleet's replicas and NATS subjects, with a little client script. Fleet page:
 * counts by status, region and version, a sortable, filterable, paginated device table, and
 * alerts. Device page: status, door, telemetry charts over the last hour, command buttons.
 * Deployments: progress per device, pause, resume, abort. Sessions and the review queue are in
 * `sessions_dashboard.tsx`.
 * Updates to a page are coalesced to at most 2 per second and carry only what is on screen.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { isStreamNotFound, openObjectStore } from "../nats/mod.ts";
import type { DeviceStatus, RegionView } from "../fleet/mod.ts";
import type { Context } from "hono";
import { setCookie } from "hono/cookie";
import type { FC } from "hono/jsx";
import { buckets, filters, parseTelemetry, subjects, type Telemetry } from "../../protocol/mod.ts";
import { allows, AuthError, redeemLoginCode } from "../auth/mod.ts";
import type { FleetDeps, FleetEnv } from "../http/mod.ts";
import type {
  Deployment,
  DeploymentCounts,
  DeviceDeploymentStatus,
  DeviceEntry,
} from "../updates/mod.ts";
import {
  actorOf,
  Layout,
  live,
  LIVE_SCRIPT,
  LoginPage,
  PAGE_SIZE,
  requireSession,
  SESSION_COOKIE,
} from "./_dashboard_kit.tsx";
import { sessionsDashboardRoutes } from "./sessions_dashboard.tsx";

export { liveClients, SESSION_COOKIE } from "./_dashboard_kit.tsx";

interface FleetQuery {
  status: string;
  region: string;
  version: string;
  sort: "id" | "status" | "lastSeen";
  page: number;
}

function fleetQuery(c: Context): FleetQuery {
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

interface FleetView {
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
function fleetView(deps: FleetDeps, q: FleetQuery): FleetView {
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

const COMMAND_SCRIPT = `async function send(device, command, args) {
  const out = document.getElementById("command-result");
  out.textContent = command + ": sending";
  const r = await fetch("/devices/" + device + "/commands", { method: "POST", headers: { "content-type": "application/json", "x-vend-csrf": "1" }, body: JSON.stringify({ command, args }) });
  const sent = await r.json();
  if (!r.ok) { out.textContent = command + ": " + (sent.detail || r.status); return; }
  for (let i = 0; i < 60; i++) {
    const c = await (await fetch("/commands/" + sent.id)).json();
    if (c.status !== "sent") { out.textContent = command + ": " + c.status + (c.error ? " (" + c.error.message + ")" : ""); if (command === "snapshot" && c.status === "succeeded") for (const img of document.querySelectorAll("#snapshots img")) img.src = img.src.replace(/t=\\d+/, "t=" + Date.now()); return; }
    await new Promise((res) => setTimeout(res, 250));
  }
}`;

function chart(points: number[], label: string, max?: number): string {
  const w = 300, h = 60;
  const top = Math.max(max ?? 0, ...points, 1e-9);
  const path = points.map((p, i) =>
    `${points.length < 2 ? 0 : (i / (points.length - 1)) * w},${h - (p / top) * h}`
  ).join(" ");
  return `<figure style="display:inline-block;margin:4px"><svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><polyline fill="none" stroke="#1d3557" points="${path}"/></svg><figcaption>${label}: ${
    points.at(-1)?.toFixed(2) ?? "-"
  }</figcaption></figure>`;
}

async function telemetryHistory(
  deps: FleetDeps,
  region: string,
  deviceId: string,
): Promise<Telemetry[]> {
  const js = jetstream(deps.nc);
  const out: Telemetry[] = [];
  try {
    const consumer = await js.consumers.get(`TELEMETRY_${region.toUpperCase()}`, {
      filter_subjects: subjects.telemetry({ region, deviceId }),
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(Date.now() - 3_600_000).toISOString(),
    });
    if ((await consumer.info()).num_pending === 0) return out;
    const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
    for await (const m of batch) {
      const t = parseTelemetry(m.data);
      if (t.ok) out.push(t.value);
      if (m.info.pending === 0) break;
    }
  } catch (e) {
    // The region has no telemetry stream (yet): no charts. A read that fails propagates.
    if (!isStreamNotFound(e)) throw e;
  }
  return out;
}

function chartsHtml(history: Telemetry[]): string {
  const last = history.slice(-240);
  const cams = [...new Set(last.flatMap((t) => t.cameras.map((c) => c.cameraId)))];
  return `<div id="charts">${chart(last.map((t) => t.cpu.usage * 100), "CPU %", 100)}${
    chart(last.map((t) => t.temperatureC ?? 0), "Temperature °C")
  }${chart(last.map((t) => t.outbox.depth), "Outbox depth")}${
    chart(last.map((t) => t.stages.reduce((a, s) => a + s.drops, 0)), "Drops")
  }${
    cams.map((id) =>
      chart(last.map((t) => t.cameras.find((c) => c.cameraId === id)?.fps ?? 0), `fps ${id}`)
    ).join("")
  }</div>`;
}

function statusHtml(deps: FleetDeps, id: string): string {
  const s = deps.state.statuses.get(id)?.value;
  const status = s?.status ?? "unknown";
  return `<dl id="status"><dt>Status</dt><dd class="${status}" data-status>${status}</dd><dt>Door</dt><dd data-door>${
    s?.door ?? "unknown"
  }</dd><dt>Version</dt><dd>${s?.appVersion ?? "-"}</dd><dt>Last seen</dt><dd>${
    s ? new Date(s.lastSeen).toISOString() : "-"
  }</dd></dl>`;
}

const DEPLOYMENT_SCRIPT = `async function steer(id, action) {
  const out = document.getElementById("deployment-result");
  const r = await fetch("/deployments/" + id + "/" + action, { method: "POST", headers: { "x-vend-csrf": "1" } });
  const body = await r.json();
  out.textContent = action + ": " + (r.ok ? "done, the deployment is " + body.state : (body.detail || r.status));
}`;

const STATUS_ORDER: DeviceDeploymentStatus[] = [
  "queued",
  "downloading",
  "installing",
  "healthy",
  "failed",
  "rolled_back",
  "superseded",
  "cancelled",
];

const DeploymentSummary: FC<{ d: Deployment & { counts: DeploymentCounts } }> = ({ d }) => (
  <div id="summary">
    <p>
      State: <strong data-state>{d.state}</strong>
      {d.reason ? ` (${d.reason})` : ""} · targets {d.targets.map((t) =>
        `${t.component} ${t.version}`
      ).join(", ")} · policy: canary {d.policy.canary},{" "}
      {d.policy.ratePerMinute}/min growing x{d.policy.growth}, failure threshold{" "}
      {d.policy.failureThreshold}
    </p>
    <div class="counts">
      <div class="card">
        <b>{d.devices.length}</b>devices
      </div>
      <div class="card">
        <b>{d.counts.unassigned}</b>not started
      </div>
      {STATUS_ORDER.map((s) => (
        <div key={s} class="card" data-count={s}>
          <b>{d.counts[s]}</b>
          {s.replace("_", " ")}
        </div>
      ))}
    </div>
  </div>
);

const DeploymentDevices: FC<{ rows: Array<{ deviceId: string; entry: DeviceEntry | null }> }> = (
  { rows },
) => (
  <tbody id="devices">
    {rows.map(({ deviceId, entry }) => (
      <tr key={deviceId} data-device={deviceId}>
        <td>
          <a href={`/devices/${deviceId}`}>{deviceId}</a>
        </td>
        <td data-status>{entry?.status ?? "not started"}</td>
        <td>
          {entry && entry.bytesTotal > 0
            ? `${
              Math.round((entry.bytesDone / entry.bytesTotal) * 100)
            }% of ${entry.bytesTotal} B (${entry.bytesSaved} B held)`
            : ""}
        </td>
        <td data-reason>{entry?.reason ?? ""}</td>
      </tr>
    ))}
  </tbody>
);

/** The latest snapshot of each camera (taken with the Snapshot button), if any. */
function snapshotsHtml(id: string, cameras: readonly string[]): string {
  const list = cameras.length ? cameras : ["cam-1"];
  return `<div id="snapshots" style="display:flex;gap:12px">${
    list.map((cam) =>
      `<figure><img data-camera="${cam}" alt="latest snapshot of ${cam}" width="320" src="/devices/${id}/snapshots/${cam}?t=0" onerror="this.style.visibility='hidden'" onload="this.style.visibility='visible'"><figcaption>${cam}: latest snapshot</figcaption></figure>`
    ).join("")
  }</div>`;
}

/** Adds the dashboard's pages and live streams to `app`. */
export function dashboardRoutes(app: OpenAPIHono<FleetEnv>, deps: FleetDeps): void {
  if (deps.payments) sessionsDashboardRoutes(app, { ...deps, payments: deps.payments });

  app.get("/login", async (c) => {
    const code = c.req.query("code");
    if (code) {
      const token = await redeemLoginCode(deps.state.service, code);
      if (!token) {
        return c.html(
          <LoginPage message="This login link is not valid (used, expired or unknown)" />,
          401,
        );
      }
      setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      return c.redirect("/", 303);
    }
    return c.html(<LoginPage />);
  });
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    try {
      await deps.tokens.verify(token);
    } catch (e) {
      // A forged, expired or foreign token; anything else is the server's failure.
      if (!(e instanceof AuthError)) throw e;
      return c.html(<LoginPage message="That token is not valid" />, 401);
    }
    setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
    return c.redirect("/", 303);
  });

  app.get("/", (c) => {
    const refused = requireSession(c);
    if (refused) return refused;
    const q = fleetQuery(c);
    const v = fleetView(deps, q);
    const link = (patch: Partial<FleetQuery>) => {
      const next = { ...q, ...patch };
      const p = new URLSearchParams();
      if (next.status) p.set("status", next.status);
      if (next.region) p.set("region", next.region);
      if (next.version) p.set("version", next.version);
      if (next.sort !== "id") p.set("sort", next.sort);
      if (next.page) p.set("page", String(next.page));
      return `/?${p}`;
    };
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

  app.get("/devices/:id{[a-z0-9][a-z0-9-]{0,62}}", async (c, next) => {
    if (!c.req.header("accept")?.includes("text/html")) return next(); // the JSON API answers
    const refused = requireSession(c);
    if (refused) return refused;
    const id = c.req.param("id");
    const actor = actorOf(c)!;
    const region = deps.state.statuses.get(id)?.value.region ??
      deps.state.devices.get(id)?.value.region ?? deps.region;
    const history = await telemetryHistory(deps, region, id);
    const cameras = [...new Set(history.flatMap((t) => t.cameras.map((m) => m.cameraId)))].sort();
    const buttons = allows(actor, "operator")
      ? `<p id="commands"><button onclick="send('${id}','unlock',{sessionId:null,durationMs:15000})">Unlock</button><button onclick="send('${id}','lock',{})">Lock</button><button onclick="send('${id}','snapshot',{cameraId:'cam-1'})">Snapshot cam-1</button><button onclick="send('${id}','restart_pipeline',{})">Restart pipeline</button></p><p id="command-result"></p>`
      : `<p id="commands" style="color:#888">Your role (${actor.role}) can watch but not control devices.</p>`;
    return c.html(
      <Layout title={id} user={`${actor.subject} (${actor.role})`}>
        <h1>{id}</h1>
        <div
          dangerouslySetInnerHTML={{
            __html: statusHtml(deps, id) + buttons + snapshotsHtml(id, cameras) +
              chartsHtml(history),
          }}
        />
        <script dangerouslySetInnerHTML={{ __html: COMMAND_SCRIPT + "\n" + LIVE_SCRIPT }} />
      </Layout>,
    );
  });

  app.get(
    "/devices/:id{[a-z0-9][a-z0-9-]{0,62}}/snapshots/:camera{[a-z0-9][a-z0-9-]{0,31}}",
    async (c) => {
      if (!actorOf(c)) return c.body(null, 401);
      // No snapshot is null (404); a store that cannot be read propagates (logged, 500).
      const store = await openObjectStore(deps.nc, buckets.snapshots);
      const name = `${c.req.param("id")}/${c.req.param("camera")}/latest.jpg`;
      const jpeg = await store.getBlob(name);
      if (!jpeg) return c.body(null, 404);
      return c.body(jpeg as Uint8Array<ArrayBuffer>, 200, {
        "content-type": "image/jpeg",
        "cache-control": "no-store",
      });
    },
  );

  app.get("/deployments", async (c, next) => {
    if (!c.req.header("accept")?.includes("text/html")) return next();
    const refused = requireSession(c);
    if (refused) return refused;
    const service = deps.deployments;
    const list = service ? await service.list() : [];
    const withCounts = await Promise.all(list.map((d) => service!.get(d.id)));
    return c.html(
      <Layout title="Deployments" user={`${actorOf(c)!.subject} (${actorOf(c)!.role})`}>
        <h1>Deployments</h1>
        <table>
          <thead>
            <tr>
              <th>Deployment</th>
              <th>State</th>
              <th>Targets</th>
              <th>Healthy</th>
              <th>Failed</th>
              <th>Devices</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {withCounts.flatMap((d) =>
              d
                ? [
                  <tr key={d.id} data-deployment={d.id}>
                    <td>
                      <a href={`/deployments/${d.id}`}>{d.id}</a>
                    </td>
                    <td>{d.state}</td>
                    <td>{d.targets.map((t) => `${t.component} ${t.version}`).join(", ")}</td>
                    <td>{d.counts.healthy}</td>
                    <td>{d.counts.failed + d.counts.rolled_back}</td>
                    <td>{d.devices.length}</td>
                    <td>{new Date(d.createdAt).toISOString()}</td>
                  </tr>,
                ]
                : []
            )}
          </tbody>
        </table>
      </Layout>,
    );
  });

  app.get("/deployments/:id{[A-Za-z0-9][A-Za-z0-9_-]{7,63}}", async (c, next) => {
    if (!c.req.header("accept")?.includes("text/html")) return next(); // the JSON API answers
    const refused = requireSession(c);
    if (refused) return refused;
    const id = c.req.param("id");
    const d = await deps.deployments?.get(id);
    if (!d) return c.html(<Layout title="Not found">No deployment {id}</Layout>, 404);
    const page = Math.max(0, Number(c.req.query("page") ?? "0") || 0);
    const rows = await deps.deployments!.devicesOf(d, {
      offset: page * PAGE_SIZE,
      limit: PAGE_SIZE,
    });
    const actor = actorOf(c)!;
    const buttons = allows(actor, "operator")
      ? `<p id="steer"><button onclick="steer('${id}','pause')">Pause</button><button onclick="steer('${id}','resume')">Resume</button><button onclick="steer('${id}','cancel')">Abort</button></p><p id="deployment-result"></p>`
      : `<p id="steer" style="color:#888">Your role (${actor.role}) can watch but not steer deployments.</p>`;
    return c.html(
      <Layout title={id} user={`${actor.subject} (${actor.role})`}>
        <h1>Deployment {id}</h1>
        <DeploymentSummary d={d} />
        <div dangerouslySetInnerHTML={{ __html: buttons }} />
        <table>
          <thead>
            <tr>
              <th>Device</th>
              <th>Status</th>
              <th>Download</th>
              <th>Reason</th>
            </tr>
          </thead>
          <DeploymentDevices rows={rows} />
        </table>
        <p>
          {page > 0 ? <a href={`?page=${page - 1}`}>previous</a> : null} page {page + 1} of{" "}
          {Math.max(1, Math.ceil(d.devices.length / PAGE_SIZE))}{" "}
          {(page + 1) * PAGE_SIZE < d.devices.length
            ? <a href={`?page=${page + 1}`}>next</a>
            : null}
        </p>
        <script dangerouslySetInnerHTML={{ __html: DEPLOYMENT_SCRIPT + "\n" + LIVE_SCRIPT }} />
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

  app.get("/live/devices/:id{[a-z0-9][a-z0-9-]{0,62}}", (c) => {
    if (!actorOf(c)) return c.body(null, 401);
    const id = c.req.param("id");
    const region = deps.state.statuses.get(id)?.value.region ?? deps.region;
    return live(
      c,
      async () => ({
        status: statusHtml(deps, id),
        charts: chartsHtml(await telemetryHistory(deps, region, id)),
      }),
      (dirty) => {
        const off = deps.state.statuses.onChange((key) => key === id && dirty());
        const sub = deps.nc.subscribe(filters.telemetry({ region, deviceId: id }), {
          callback: () => dirty(),
        });
        return () => {
          off();
          sub.unsubscribe();
        };
      },
    );
  });

  app.get("/live/deployments/:id{[A-Za-z0-9][A-Za-z0-9_-]{7,63}}", (c) => {
    if (!actorOf(c)) return c.body(null, 401);
    const service = deps.deployments;
    if (!service) return c.body(null, 404);
    const id = c.req.param("id");
    const page = Math.max(0, Number(c.req.query("page") ?? "0") || 0);
    return live(c, async () => {
      const d = await service.get(id);
      if (!d) return {};
      const rows = await service.devicesOf(d, { offset: page * PAGE_SIZE, limit: PAGE_SIZE });
      return {
        summary: await (<DeploymentSummary d={d} />).toString(),
        devices: await (<DeploymentDevices rows={rows} />).toString(),
      };
    }, (dirty) => {
      // Device changes come from the service's view; pause/resume/cancel from its KV entry.
      const off = service.onChange((changed) => changed === id && dirty());
      const timer = setInterval(dirty, 2000);
      return () => {
        off();
        clearInterval(timer);
      };
    });
  });
}
