/**
 * A payment session's page in the customer app (`/app/s/SESSION`): the steps the customer is at
 * (unlocked, door open, door closed, receipt), followed live over Server-Sent Events from the
 * session's payment events and the door events that carry its id; the receipt once settled, with
 * a dispute form per item. Only the session's own customer sees it.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { FleetEnv } from "../http/mod.ts";
import { PaymentConflictError, PaymentNotFoundError } from "../checkout/mod.ts";
import type { PaymentSession } from "../../payments/mod.ts";
import { live } from "./_dashboard_kit.tsx";
import {
  type CustomerAppDeps,
  langOf,
  money,
  page,
  signedInCustomer,
  signInForm,
} from "./_customer_kit.tsx";
import { type Lang, TEXT, type Texts } from "./_customer_text.ts";
import { doorOf } from "./_session_door.ts";

const SESSION = ":session{pay-[A-Za-z0-9-]{8,60}}";

const LIVE_SCRIPT = `const es = new EventSource("/app/live" + location.pathname.slice(4));
es.onmessage = (e) => { const parts = JSON.parse(e.data); for (const [id, html] of Object.entries(parts)) { const el = document.getElementById(id); if (el) el.outerHTML = html; } };`;

/** Where the customer is in a session, as the steps the page shows. */
function Steps(
  { s, t, lang, door }: {
    s: PaymentSession;
    t: Texts;
    lang: Lang;
    door: string | undefined;
  },
) {
  const unlocked = s.state !== "started" && s.state !== "held" && s.state !== "declined";
  const closed = s.cart !== null || s.state === "review" || s.state === "settled" ||
    door === "closed";
  const opened = closed || door === "open";
  return (
    <div id="status" class="card" data-state={s.state}>
      {s.state === "declined"
        ? <p class="error" data-message>{t.declined}</p>
        : s.state === "failed" && s.receiptTotal === null
        ? <p class="error" data-message>{t.failed}</p>
        : (
          <>
            <div class={`step${unlocked ? " done" : ""}`}>{t.stepUnlocked}</div>
            <div class={`step${opened ? " done" : ""}`}>{t.stepOpen}</div>
            <div class={`step${closed ? " done" : ""}`}>{t.stepClosed}</div>
            <div class={`step${s.state === "settled" ? " done" : ""}`}>{t.stepReceipt}</div>
            {s.state === "review" ? <p data-message>{t.review}</p> : null}
          </>
        )}
      {s.state === "settled" ? <Receipt s={s} t={t} lang={lang} /> : null}
    </div>
  );
}

function Receipt(
  { s, t, lang }: {
    s: PaymentSession;
    t: Texts;
    lang: Lang;
  },
) {
  return (
    <div id="receipt">
      <h2>{t.receipt}</h2>
      <table>
        <tbody>
          {(s.receiptLines ?? []).map((l) => (
            <tr key={l.sku} data-sku={l.sku}>
              <td>
                {l.qty} × {l.name}
              </td>
              <td class="num">{money(l.total, s.currency, lang)}</td>
            </tr>
          ))}
          <tr>
            <td class="total">{t.total}</td>
            <td class="num total" data-total>{money(s.receiptTotal ?? 0, s.currency, lang)}</td>
          </tr>
        </tbody>
      </table>
      {s.disputed
        ? <p class="muted" data-disputed>{t.disputed}</p>
        : (
          <form method="post" action={`/app/s/${s.sessionId}/dispute`}>
            <select name="sku" aria-label={t.disputeWhich}>
              {(s.receiptLines ?? []).map((l) => <option key={l.sku} value={l.sku}>{l.name}
              </option>)}
            </select>
            <button type="submit" class="secondary">{t.dispute}</button>
          </form>
        )}
    </div>
  );
}

/** The session's routes, relative to `/app`: its page, its live stream, disputing an item. */
export function customerSession(deps: CustomerAppDeps): Hono<FleetEnv> {
  const p = deps.payments;
  const app = new Hono<FleetEnv>();

  const ownSession = async (c: Context<FleetEnv>) => {
    const customer = await signedInCustomer(c, deps.customerAuth);
    if (!customer) return undefined;
    const s = await p.get(c.req.param("session") ?? "").catch((e) => {
      // No such session is not the customer's; a read that fails propagates.
      if (e instanceof PaymentNotFoundError) return undefined;
      throw e;
    });
    return s && s.customerId === customer.customerId ? s : undefined;
  };

  app.get(`/s/${SESSION}`, async (c) => {
    const s = await ownSession(c);
    const lang = langOf(c);
    const t = TEXT[lang];
    if (!s) return signInForm(c, { next: `/app/s/${c.req.param("session")}` });
    return page(
      c,
      <>
        <h1>{t.machine} {s.machineId}</h1>
        <Steps
          s={s}
          t={t}
          lang={lang}
          door={await doorOf(deps, { machineId: s.machineId, sessionId: s.sessionId })}
        />
        <script dangerouslySetInnerHTML={{ __html: LIVE_SCRIPT }} />
      </>,
      { title: t.session, signedIn: true },
    );
  });

  app.get(`/live/s/${SESSION}`, async (c) => {
    const s0 = await ownSession(c);
    if (!s0) return c.body(null, 401);
    const lang = langOf(c);
    const t = TEXT[lang];
    const id = s0.sessionId;
    let door = await doorOf(deps, { machineId: s0.machineId, sessionId: id });
    return live(
      c,
      async () => ({
        status: await (
          <Steps s={await p.get(id)} t={t} lang={lang} door={door} />
        ).toString(),
      }),
      (dirty) => {
        const pay = deps.sessionFeed.onEvents(() => dirty(), { sessionId: id });
        // The door's events of this session, from whichever of the machine's devices sends them.
        const events = deps.deviceFeeds.onPipelineEvents((e) => {
          if (!("sessionId" in e) || e.sessionId !== id) return;
          if (e.type === "door_opened" && door !== "closed") door = "open";
          if (e.type === "door_closed") door = "closed";
          dirty();
        });
        return () => {
          pay();
          events();
        };
      },
      { renderAtOnce: true },
    );
  });

  app.post(`/s/${SESSION}/dispute`, async (c) => {
    const s = await ownSession(c);
    if (!s) return signInForm(c);
    const form = await c.req.parseBody();
    const sku = typeof form.sku === "string" ? form.sku : "";
    if (s.state === "settled" && (s.receiptLines ?? []).some((l) => l.sku === sku)) {
      await p.dispute(s.sessionId, { reason: `the customer disputes ${sku}` }).catch((e) => {
        // No longer settled (changed meanwhile): nothing to dispute. Anything else propagates.
        if (!(e instanceof PaymentConflictError)) throw e;
      });
    }
    return c.redirect(`/app/s/${s.sessionId}`, 303);
  });
  return app;
}
