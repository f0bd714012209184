/**
 * Who is asking: the middleware that sets a request's actor from its bearer token or the
 * dashboard's session cookie.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { AuthError, type TokenService } from "./auth/mod.ts";
import { SESSION_COOKIE } from "./ui/mod.ts";
import {
  audit,
  clientAddress,
  type FleetDeps,
  type FleetEnv,
  type Metrics,
  problem,
} from "./http/mod.ts";
import { type Logger, RateLimiter } from "../runtime/mod.ts";

/** Refused tokens audited per client address: 5 at once, then one a minute. */
const AUDITS_PER_ADDRESS = { burst: 5, everyMs: 60_000 };
/** Refused tokens audited from everyone: 60 at once, then 10 a second. */
const AUDITS_OVERALL = { burst: 60, everyMs: 100 };

/**
 * Sets the actor from `Authorization: Bearer` (a refused token is answered 401 and audited as
 * `auth.token_refused`) or from the session cookie (on a changing request only with the CSRF
 * header). Without `fleet` (no tokens) every request is anonymous. Refusals are audited within
 * bounds (per client address and overall, see above) so that a flood of bad tokens is not a flood
 * of audit writes: the rest are counted (`vend_auth_refusals_unaudited_total`) and refused alike.
 */
export function authenticate(
  { fleet, metrics, logger }: {
    fleet?: FleetDeps | undefined;
    metrics: Metrics;
    logger?: Logger | undefined;
  },
): MiddlewareHandler<FleetEnv> {
  const tokens: TokenService | undefined = fleet?.tokens;
  const perAddress = new RateLimiter(AUDITS_PER_ADDRESS);
  const overall = new RateLimiter(AUDITS_OVERALL);
  const auditable = (address: string) => perAddress.take(address) === 0 && overall.take("*") === 0;
  return async function actor(c, next) {
    const header = c.req.header("authorization");
    if (header !== undefined && tokens) {
      const m = /^Bearer ([A-Za-z0-9_.-]{10,4096})$/.exec(header);
      if (!m) {
        return problem(401, "Unauthorized", "Authorization must be `Bearer <token>`", {
          requestId: c.get("requestId"),
        });
      }
      try {
        c.set("actor", await tokens.verify(m[1]!));
      } catch (e) {
        // A forged, expired or foreign token: refused, and audited.
        if (fleet && !auditable(clientAddress(c))) {
          metrics.inc(
            "vend_auth_refusals_unaudited_total",
            "Refused tokens not audited (over the audit bounds of a client address or overall)",
          );
        } else if (fleet) {
          await audit(fleet, c, {
            action: "auth.token_refused",
            target: `${c.req.method} ${c.req.path}`.slice(0, 200),
            outcome: "refused",
            before: null,
            after: null,
            reason: `${(e as Error).message.slice(0, 160)} (from ${clientAddress(c)})`,
          }).catch((err) => {
            // The token is refused all the same; the lost audit entry is said and counted.
            metrics.inc(
              "vend_audit_write_failures_total",
              "Audit entries that could not be written",
            );
            logger?.log("warn", "refused token not audited", { error: String(err) });
          });
        }
        return problem(401, "Unauthorized", (e as Error).message, {
          requestId: c.get("requestId"),
        });
      }
    } else if (tokens) {
      // The dashboard's session cookie; a changing request must also carry the CSRF header,
      // which a cross-site form or link cannot set.
      const cookie = getCookie(c, SESSION_COOKIE);
      const safe = c.req.method === "GET" || c.req.method === "HEAD" ||
        c.req.header("x-vend-csrf") === "1";
      if (cookie && safe) {
        try {
          c.set("actor", await tokens.verify(cookie));
        } catch (e) {
          // An invalid session is simply not signed in; anything else is the server's failure.
          if (!(e instanceof AuthError)) throw e;
        }
      }
    }
    await next();
    return undefined;
  };
}
