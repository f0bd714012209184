/**
 * The customer's account page (`/app`): who is signed in, their payment methods (the default
 * marked, the others made default or removed from here), a link to add a card, and signing out
 * everywhere. Nobody signed in gets the sign-in form.
 *
 * @module
 */
import { Hono } from "hono";
import type { FleetEnv } from "../http/mod.ts";
import {
  type CustomerAppDeps,
  langOf,
  page,
  signedInCustomer,
  signInForm,
} from "./_customer_kit.tsx";
import { TEXT } from "./_customer_text.ts";

/** The account page's route, relative to `/app`. */
export function customerAccount(deps: CustomerAppDeps): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();
  app.get("/", async (c) => {
    const customer = await signedInCustomer(c, deps.customerAuth);
    if (!customer) return signInForm(c);
    const t = TEXT[langOf(c)];
    const def = customer.defaultPaymentMethodId ?? customer.paymentMethods.at(-1)?.paymentMethodId;
    return page(
      c,
      <>
        <div class="card">
          <h1>{t.hello}</h1>
          <p class="muted" data-contact>{customer.email ?? customer.phone}</p>
        </div>
        <div class="card" id="cards">
          <h2>{t.cards}</h2>
          {customer.paymentMethods.length === 0 ? <p class="muted">{t.noCards}</p> : null}
          {customer.paymentMethods.map((m) => (
            <div key={m.paymentMethodId} data-card={m.paymentMethodId}>
              <p>
                {m.token.replace(/^pm_(sandbox_)?/, "").replaceAll("_", " ")}
                {m.paymentMethodId === def ? ` · ${t.default}` : ""}
              </p>
              {m.paymentMethodId === def
                ? null
                : (
                  <form method="post" action={`/app/cards/${m.paymentMethodId}/default`}>
                    <button type="submit" class="secondary">{t.makeDefault}</button>
                  </form>
                )}
              <form method="post" action={`/app/cards/${m.paymentMethodId}/remove`}>
                <button type="submit" class="secondary">{t.remove}</button>
              </form>
            </div>
          ))}
          <a href="/app/cards/new">{t.addCard}</a>
        </div>
        <form method="post" action="/app/signout">
          <button type="submit" class="secondary">{t.signOutEverywhere}</button>
        </form>
      </>,
      { title: t.account, signedIn: true },
    );
  });
  return app;
}
