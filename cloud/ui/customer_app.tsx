/**
 * The customer web app under `/app`: a mobile-first, installable page set (manifest, a service
 * worker for the shell) rendered on the server with hono/jsx, in Spanish or English as the
 * browser asks. Sign-in by one-time code (no passwords); cards added through the provider's
 * tokenisation (the sandbox's card form turns a test card into a token in the browser: the
 * number never reaches the service); at a machine (`/app/m/MACHINE`, what its QR code opens) the
 * products, prices and an Open button that starts the payment session; the session's page then
 * follows it live over Server-Sent Events (unlocked, door open, door closed, cart, receipt);
 * receipts with a dispute link per item.
 *
 * Each page is a sub-app in its own file (`customer_shell.tsx`, `customer_account.tsx`,
 * `customer_sign_in.tsx`, `customer_cards.tsx`, `customer_machine.tsx`, `customer_session.tsx`,
 * `customer_receipts.tsx`), composed here under `/app` behind the app's guards.
 *
 * @module
 */
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import { cardNumberGuard, type FleetEnv } from "../http/mod.ts";
import type { CustomerAppDeps } from "./_customer_kit.tsx";
import { customerAccount } from "./customer_account.tsx";
import { customerCards } from "./customer_cards.tsx";
import { customerMachine } from "./customer_machine.tsx";
import { customerReceipts } from "./customer_receipts.tsx";
import { customerSession } from "./customer_session.tsx";
import { customerShell } from "./customer_shell.tsx";
import { customerSignIn } from "./customer_sign_in.tsx";

export { CUSTOMER_COOKIE, type CustomerAppDeps } from "./_customer_kit.tsx";

/** Changing requests come from the app's own pages: a cross-site form is refused. */
function sameOriginPosts(): MiddlewareHandler<FleetEnv> {
  return async function sameOriginPosts(c, next) {
    if (c.req.method === "POST") {
      const origin = c.req.header("origin");
      if (origin && origin !== new URL(c.req.url).origin) {
        return c.text("Cross-site request refused", 403);
      }
    }
    await next();
    return undefined;
  };
}

/** The customer app, as a sub-app to mount at `/app`. */
export function customerApp(deps: CustomerAppDeps): Hono<FleetEnv> {
  const customer = new Hono<FleetEnv>();
  customer.use("/*", cardNumberGuard());
  customer.use("/*", sameOriginPosts());
  customer.route("/", customerShell());
  customer.route("/", customerAccount(deps));
  customer.route("/", customerSignIn(deps));
  customer.route("/cards", customerCards(deps));
  customer.route("/m", customerMachine(deps));
  customer.route("/", customerSession(deps));
  customer.route("/receipts", customerReceipts(deps));
  return customer;
}
