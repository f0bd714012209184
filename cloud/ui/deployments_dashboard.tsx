/**
 * The dashboard's deployment pages (for a browser; the JSON API answers the rest): the list of
 * deployments with their counts, and a deployment's page with its state, policy, progress per
 * device (paginated) and, for an operator, pause, resume and abort; kept live
 * (`/live/deployments/ID`) from the deployment service's view and its KV entry.
 *
 * @module
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import { allows } from "../auth/mod.ts";
import type { FieldDataset } from "../datasets/mod.ts";
import type { FleetDeps, FleetEnv } from "../http/mod.ts";
import {
  DEFAULT_MIN_REVIEWED,
  type Deployment,
  type DeploymentCounts,
  type DeploymentService,
  type DeviceDeploymentStatus,
  type DeviceEntry,
} from "../updates/mod.ts";
import {
  actorOf,
  Layout,
  live,
  LIVE_SCRIPT,
  PAGE_SIZE,
  requireSession,
} from "./_dashboard_kit.tsx";
import { ShadowSection } from "./_shadow_view.tsx";

const DEPLOYMENT = ":id{[A-Za-z0-9][A-Za-z0-9_-]{7,63}}";

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

/** A deployment of the list with its counts (none when it went meanwhile). */
type Listed = (Deployment & { counts: DeploymentCounts }) | undefined;

/** The deployments' rows: state, targets, healthy and failed counts, devices, creation. */
const DeploymentRows: FC<{ items: readonly Listed[] }> = (
  { items },
) => (
  <tbody>
    {items.flatMap((d) =>
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
);

/** The deployments' list, a deployment's page and its live stream. */
export function deploymentsDashboard(
  deps: FleetDeps & {
    readonly deployments: DeploymentService;
    /** The field samples: a shadow deployment's page shows its comparison. */
    readonly fieldDataset?: FieldDataset | undefined;
  },
): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();
  const service = deps.deployments;

  app.get("/deployments", async (c, next) => {
    if (!c.req.header("accept")?.includes("text/html")) return next();
    const refused = requireSession(c);
    if (refused) return refused;
    const list = await service.list();
    const withCounts = await Promise.all(list.map((d) => service.get(d.id)));
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
          <DeploymentRows items={withCounts} />
        </table>
      </Layout>,
    );
  });

  app.get(`/deployments/${DEPLOYMENT}`, async (c, next) => {
    if (!c.req.header("accept")?.includes("text/html")) return next(); // the JSON API answers
    const refused = requireSession(c);
    if (refused) return refused;
    const id = c.req.param("id");
    const d = await service.get(id);
    if (!d) return c.html(<Layout title="Not found">No deployment {id}</Layout>, 404);
    const page = Math.max(0, Number(c.req.query("page") ?? "0") || 0);
    const rows = await service.devicesOf(d, {
      offset: page * PAGE_SIZE,
      limit: PAGE_SIZE,
    });
    const actor = actorOf(c)!;
    const shadow = d.targets.find((t) => t.mode === "shadow");
    const comparison = shadow && deps.fieldDataset
      ? await deps.fieldDataset.compareShadow({
        candidate: shadow.version,
        deviceIds: new Set(d.devices),
        since: d.createdAt,
        minReviewed: d.promotion?.minReviewed ?? DEFAULT_MIN_REVIEWED,
      })
      : undefined;
    const buttons = allows(actor, "operator")
      ? `<p id="steer"><button onclick="steer('${id}','pause')">Pause</button><button onclick="steer('${id}','resume')">Resume</button><button onclick="steer('${id}','cancel')">Abort</button></p><p id="deployment-result"></p>`
      : `<p id="steer" style="color:#888">Your role (${actor.role}) can watch but not steer deployments.</p>`;
    return c.html(
      <Layout title={id} user={`${actor.subject} (${actor.role})`}>
        <h1>Deployment {id}</h1>
        <DeploymentSummary d={d} />
        <div dangerouslySetInnerHTML={{ __html: buttons }} />
        {comparison ? <ShadowSection c={comparison} promotion={d.promotion} /> : null}
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

  app.get(`/live/deployments/${DEPLOYMENT}`, (c) => {
    if (!actorOf(c)) return c.body(null, 401);
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
  return app;
}
