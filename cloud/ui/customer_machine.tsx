/**
 * A machine's page in the customer app (`/app/m/MACHINE`, what its QR code opens): its products
 * and prices, the most the hold takes, and the Open button, which starts the payment session
 * (once per press, at the prices shown, only at an online machine whose door is closed) and sends
 * the customer to the session's page.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { FleetEnv } from "../http/mod.ts";
import { PriceListNotFoundError, PriceMismatchError } from "../checkout/mod.ts";
import {
  type CustomerAppDeps,
  langOf,
  money,
  page,
  signedInCustomer,
  signInForm,
} from "./_customer_kit.tsx";
import { TEXT } from "./_customer_text.ts";

const MACHINE = ":machine{[a-z0-9][a-z0-9-]{0,62}}";

/** The machine's page, with `message` (409) when the last press of Open did not start a session. */
async function machinePage(
  c: Context<FleetEnv>,
  deps: CustomerAppDeps,
  { machineId, message }: { readonly machineId: string; readonly message?: string },
) {
  const p = deps.payments;
  const customer = await signedInCustomer(c, deps.customerAuth);
  if (!customer) return signInForm(c, { next: `/app/m/${machineId}` });
  const lang = langOf(c);
  const t = TEXT[lang];
  const nonce = crypto.randomUUID();
  const prices = await p.pricesFor(machineId).catch((e) => {
    if (!(e instanceof PriceListNotFoundError)) throw e;
    return undefined;
  });
  if (!prices) {
    // No price list for it (a list assigned but gone): nothing can be sold here now.
    return page(
      c,
      <div class="card">
        <h1>{t.machine} {machineId}</h1>
        <p class="error" data-message>{t.notSelling}</p>
      </div>,
      { title: machineId, status: 503, signedIn: true },
    );
  }
  return page(
    c,
    <>
      <div class="card">
        <h1>{t.machine} {machineId}</h1>
        {message ? <p class="error" data-message>{message}</p> : null}
        <table>
          <tbody>
            {[...prices.items].map(([sku, item]) => (
              <tr key={sku}>
                <td>{item.name}</td>
                <td class="num">{money(item.unitPrice, prices.currency, lang)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p class="muted">{t.holdNote} {money(p.holdAmount, prices.currency, lang)}</p>
      </div>
      {customer.paymentMethods.length === 0
        ? (
          <div class="card">
            <p class="error" data-message>{t.needCard}</p>
            <a href="/app/cards/new">{t.addCard}</a>
          </div>
        )
        : (
          <form method="post" action={`/app/m/${machineId}/open`} id="open-form">
            <input type="hidden" name="nonce" value={nonce} />
            <input type="hidden" name="prices" value={prices.version} />
            <button type="submit" id="open">{t.open}</button>
          </form>
        )}
    </>,
    { title: machineId, status: message ? 409 : 200, signedIn: true },
  );
}

/** The machine's routes, relative to `/app/m`: its page and its Open button. */
export function customerMachine(deps: CustomerAppDeps): Hono<FleetEnv> {
  const p = deps.payments;
  const auth = deps.customerAuth;
  const app = new Hono<FleetEnv>();

  app.get(`/${MACHINE}`, (c) => machinePage(c, deps, { machineId: c.req.param("machine") }));

  app.post(`/${MACHINE}/open`, async (c) => {
    const customer = await signedInCustomer(c, auth);
    const machineId = c.req.param("machine");
    if (!customer) return signInForm(c, { next: `/app/m/${machineId}` });
    const t = TEXT[langOf(c)];
    const again = (message: string) => machinePage(c, deps, { machineId, message });
    const form = await c.req.parseBody();
    const nonce = typeof form.nonce === "string" && /^[0-9a-f-]{36}$/.test(form.nonce)
      ? form.nonce
      : undefined;
    if (!nonce) return again(t.tryAgain);
    // One session per press of Open: a second press (or a resent form) finds the first.
    const claim = await auth.claimOpen(customer.customerId, nonce);
    if (claim.sessionId) return c.redirect(`/app/s/${claim.sessionId}`, 303);
    if (!claim.mine) return again(t.tryAgain);
    const devices = [...deps.state.statuses.entries()]
      .filter(([, e]) => e.value.machineId === machineId);
    if (!devices.some(([, e]) => e.value.status === "online")) {
      await auth.releaseOpen(customer.customerId, nonce);
      return again(t.machineOffline);
    }
    if (devices.some(([, e]) => e.value.door === "open")) {
      await auth.releaseOpen(customer.customerId, nonce);
      return again(t.machineBusy);
    }
    // At the prices the page showed: changed since, the page shows the new ones first.
    const shown = typeof form.prices === "string" ? form.prices.slice(0, 200) : undefined;
    let changed = false;
    const s = await p.start({
      customerId: customer.customerId,
      machineId,
      ...(shown ? { prices: shown } : {}),
    }).catch((e) => {
      changed = e instanceof PriceMismatchError;
      // Other prices than shown is the customer's to see; any other failure is logged too.
      if (!changed) {
        deps.logger?.log("warn", "a customer's session did not start", {
          customerId: customer.customerId,
          machineId,
          error: String(e),
        });
      }
      return undefined;
    });
    if (!s) {
      await auth.releaseOpen(customer.customerId, nonce);
      return again(changed ? t.pricesChanged : t.failed);
    }
    await auth.recordOpen(customer.customerId, nonce, s.sessionId);
    return c.redirect(`/app/s/${s.sessionId}`, 303);
  });
  return app;
}
