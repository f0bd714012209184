/**
 * The dashboard's planogram page of a machine (`/machines/ID/planogram`, for a browser; the
 * JSON API answers the rest): each slot's SKU (one the machine sells) and par level, edited in
 * place by an operator and saved as the next version (with If-Match: a version saved meanwhile
 * by someone else is refused, and the page says so), and which version each of the machine's
 * devices decides by, or why it refused one. A machine without a planogram starts from the
 * slots its primary's cameras see.
 *
 * @module
 */
import { Hono } from "hono";
import { allows } from "../auth/mod.ts";
import { type FleetEnv, machineCalibration, type PlanogramDeps } from "../http/mod.ts";
import { actorOf, Layout, requireSession } from "./_dashboard_kit.tsx";

const MACHINE = ":id{[a-z0-9][a-z0-9-]{0,62}}";

/** The page's script: renders the slots, saves them, follows the devices. */
const PLANOGRAM_SCRIPT =
  `const page = JSON.parse(document.getElementById("planogram-data").textContent);
let version = page.version;
function row(s) {
  const options = ['<option value="">(empty)</option>'].concat(page.skus.map((k) => '<option' + (k === s.sku ? ' selected' : '') + '>' + k + '</option>')).join("");
  const ro = page.canEdit ? "" : " disabled";
  return '<tr data-shelf="' + s.shelf + '" data-slot="' + s.slot + '"><td>' + s.shelf + '</td><td>' + s.slot + '</td><td><select name="sku"' + ro + '>' + options + '</select></td><td><input name="par" type="number" min="0" max="99" value="' + s.par + '"' + ro + '></td></tr>';
}
document.querySelector("#slots tbody").innerHTML = page.slots.map(row).join("");
function slots() {
  return [...document.querySelectorAll("#slots tbody tr")].map((tr) => ({
    shelf: Number(tr.dataset.shelf), slot: Number(tr.dataset.slot),
    sku: tr.querySelector("select").value || null, par: Number(tr.querySelector("input").value),
  }));
}
async function save() {
  const out = document.getElementById("planogram-result");
  out.textContent = "saving";
  const headers = { "content-type": "application/json", "x-vend-csrf": "1" };
  if (version) headers["if-match"] = '"' + version + '"';
  const r = await fetch(location.pathname, { method: "PUT", headers, body: JSON.stringify({ slots: slots() }) });
  const body = await r.json();
  if (!r.ok) { out.dataset.state = "refused"; out.textContent = "refused: " + (body.detail || r.status) + (body.field ? " (" + body.field + ")" : ""); return; }
  version = body.version;
  document.getElementById("version").textContent = String(version);
  out.dataset.state = "saved";
  out.textContent = "saved as version " + version + "; the machine applies it between door sessions";
}
async function follow() {
  const r = await fetch(location.pathname, { headers: { accept: "application/json" } });
  if (r.ok) {
    const p = await r.json();
    document.getElementById("devices").innerHTML = p.devices.map((d) => '<li data-device="' + d.deviceId + '" data-in-use="' + (d.inUse ?? "") + '">' + d.deviceId + ': ' + (d.inUse ? "version " + d.inUse : "none yet") + d.errors.map((e) => ' · refused ' + e.field + ': ' + e.reason).join("") + '</li>').join("");
  }
  setTimeout(follow, 1000);
}
follow();`;

/** The planogram page of a machine. */
export function planogramDashboard(deps: PlanogramDeps): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();
  app.get(`/machines/${MACHINE}/planogram`, async (c, next) => {
    if (!c.req.header("accept")?.includes("text/html")) return next(); // the JSON API answers
    const refused = requireSession(c);
    if (refused) return refused;
    const id = c.req.param("id");
    const actor = actorOf(c)!;
    const current = await deps.planograms.get(id);
    const skus = [...(await deps.prices.forMachine(id)).list.items.keys()].sort();
    const slots = current?.slots ??
      ((await machineCalibration(deps, id)) ?? []).map((s) => ({
        shelf: s.shelf,
        slot: s.slot,
        sku: null,
        par: 0,
      }));
    const data = {
      version: current?.version ?? 0,
      skus,
      slots,
      canEdit: allows(actor, "operator"),
    };
    return c.html(
      <Layout title={`${id} planogram`} user={`${actor.subject} (${actor.role})`}>
        <h1>{id}: planogram</h1>
        <p>
          Version <span id="version">{String(current?.version ?? "none yet")}</span>
          {current ? ` · by ${current.updatedBy}` : ""}
        </p>
        <table id="slots">
          <thead>
            <tr>
              <th>Shelf</th>
              <th>Slot</th>
              <th>SKU</th>
              <th>Par</th>
            </tr>
          </thead>
          <tbody></tbody>
        </table>
        {data.canEdit
          ? <button type="button" id="save" onclick="save()">Save as the next version</button>
          : <p style="color:#888">Your role ({actor.role}) can see but not change planograms.</p>}
        <p id="planogram-result"></p>
        <h2>Devices</h2>
        <ul id="devices"></ul>
        <script
          type="application/json"
          id="planogram-data"
          dangerouslySetInnerHTML={{ __html: JSON.stringify(data).replace(/</g, "\\u003c") }}
        />
        <script dangerouslySetInnerHTML={{ __html: PLANOGRAM_SCRIPT }} />
      </Layout>,
    );
  });
  return app;
}
