/**
 * The dashboard's device page (`/devices/ID`, for a browser; the JSON API answers the rest):
 * status and door, command buttons for an operator (unlock, lock, snapshot, restart), the latest
 * snapshot of each camera, and telemetry charts over the last hour; kept live (`/live/devices/ID`)
 * from the status replica and the device's telemetry subject.
 *
 * @module
 */
import { Hono } from "hono";
import type { Telemetry } from "../../protocol/mod.ts";
import { allows } from "../auth/mod.ts";
import type { FleetDeps, FleetEnv } from "../http/mod.ts";
import { actorOf, Layout, live, LIVE_SCRIPT, requireSession } from "./_dashboard_kit.tsx";

const DEVICE = ":id{[a-z0-9][a-z0-9-]{0,62}}";

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

/** The latest snapshot of each camera (taken with the Snapshot button), if any. */
function snapshotsHtml(id: string, cameras: readonly string[]): string {
  const list = cameras.length ? cameras : ["cam-1"];
  return `<div id="snapshots" style="display:flex;gap:12px">${
    list.map((cam) =>
      `<figure><img data-camera="${cam}" alt="latest snapshot of ${cam}" width="320" src="/devices/${id}/snapshots/${cam}?t=0" onerror="this.style.visibility='hidden'" onload="this.style.visibility='visible'"><figcaption>${cam}: latest snapshot</figcaption></figure>`
    ).join("")
  }</div>`;
}

/** The device page, its cameras' latest snapshots and its live stream. */
export function deviceDashboard(deps: FleetDeps): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();

  app.get(`/devices/${DEVICE}`, async (c, next) => {
    if (!c.req.header("accept")?.includes("text/html")) return next(); // the JSON API answers
    const refused = requireSession(c);
    if (refused) return refused;
    const id = c.req.param("id");
    const actor = actorOf(c)!;
    const region = deps.state.statuses.get(id)?.value.region ??
      deps.state.devices.get(id)?.value.region ?? deps.region;
    const history = await deps.deviceFeeds.telemetryHistory(id, { region });
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
    `/devices/${DEVICE}/snapshots/:camera{[a-z0-9][a-z0-9-]{0,31}}`,
    async (c) => {
      if (!actorOf(c)) return c.body(null, 401);
      // No snapshot is null (404); a store that cannot be read propagates (logged, 500).
      const jpeg = await deps.deviceFeeds.latestSnapshot(c.req.param("id"), c.req.param("camera"));
      if (!jpeg) return c.body(null, 404);
      return c.body(jpeg as Uint8Array<ArrayBuffer>, 200, {
        "content-type": "image/jpeg",
        "cache-control": "no-store",
      });
    },
  );

  app.get(`/live/devices/${DEVICE}`, (c) => {
    if (!actorOf(c)) return c.body(null, 401);
    const id = c.req.param("id");
    const region = deps.state.statuses.get(id)?.value.region ?? deps.region;
    return live(
      c,
      async () => ({
        status: statusHtml(deps, id),
        charts: chartsHtml(await deps.deviceFeeds.telemetryHistory(id, { region })),
      }),
      (dirty) => {
        const off = deps.state.statuses.onChange((key) => key === id && dirty());
        const stop = deps.deviceFeeds.onTelemetry(id, () => dirty(), { region });
        return () => {
          off();
          stop();
        };
      },
    );
  });
  return app;
}
