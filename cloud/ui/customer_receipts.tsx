/**
 * The customer's receipts (`/app/receipts`): their last 50 sessions, newest first, each with its
 * total (or its state while it has none) and a link to its page.
 *
 * @module
 */
import { Hono } from "hono";
import type { FleetEnv } from "../http/mod.ts";
import {
  type CustomerAppDeps,
  langOf,
  money,
  page,
  signedInCustomer,
  signInForm,
} from "./_customer_kit.tsx";
import { TEXT } from "./_customer_text.ts";

/** The receipts page's route, relative to `/app/receipts`. */
export function customerReceipts(deps: CustomerAppDeps): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();
  app.get("/", async (c) => {
    const customer = await signedInCustomer(c, deps.customerAuth);
    if (!customer) return signInForm(c, { next: "/app/receipts" });
    const lang = langOf(c);
    const t = TEXT[lang];
    const sessions = await deps.payments.sessionsOf(customer.customerId, { limit: 50 });
    return page(
      c,
      <div class="card">
        <h1>{t.receipts}</h1>
        {sessions.length === 0 ? <p class="muted">{t.noReceipts}</p> : null}
        <table>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.sessionId} data-session={s.sessionId}>
                <td>
                  <a href={`/app/s/${s.sessionId}`}>
                    {new Date(s.startedAt).toLocaleString(lang === "es" ? "es-ES" : "en-GB")} ·{" "}
                    {s.machineId}
                  </a>
                </td>
                <td class="num">
                  {s.receiptTotal === null
                    ? t.states[s.state] ?? s.state
                    : money(s.receiptTotal, s.currency, lang)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>,
      { title: t.receipts, signedIn: true },
    );
  });
  return app;
}
