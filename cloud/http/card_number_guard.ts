/**
 * The card-number guard: card numbers never enter the system (payment methods are provider
 * tokens), so a request whose body or query carries what looks like one is refused before any
 * route sees it, and the number is not repeated in the answer.
 *
 * @example
 * ```ts
 * import { OpenAPIHono } from "@hono/zod-openapi";
 * import { cardNumberGuard } from "./card_number_guard.ts";
 *
 * const app = new OpenAPIHono();
 * app.use("/payments/*", cardNumberGuard());
 * ```
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { FleetEnv } from "./fleet_api.ts";
import { problem } from "./problem.ts";

/** Options of {@link cardNumberGuard}. */
export interface CardNumberGuardOptions {
  /** Bodies larger than this are not read (their routes limit them). Default 256 KiB. */
  readonly maxBodyBytes?: number;
}

/**
 * Looks for a card number in `text`: 13 to 19 digits, single spaces or dashes allowed between,
 * Luhn-valid, standing on its own. A run of digits that is part of a longer token (letters, digits
 * or dashes on either side, as inside a UUID such as a customer id) is not a card number.
 */
export function containsCardNumber(text: string): boolean {
  for (const m of text.matchAll(/(?<![\p{L}\p{N}_-])\d(?:[ -]?\d){12,18}(?![\p{L}\p{N}_-])/gu)) {
    if (luhnValid(m[0].replace(/[ -]/g, ""))) return true;
  }
  return false;
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * Middleware: refuses (400, without repeating it) a request whose JSON, form or text body or
 * whose query carries what looks like a card number.
 */
export function cardNumberGuard(options: CardNumberGuardOptions = {}): MiddlewareHandler<FleetEnv> {
  const max = options.maxBodyBytes ?? 256 * 1024;
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new RangeError(`maxBodyBytes must be a non-negative integer, got ${max}`);
  }
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    const small = Number(c.req.header("content-length") ?? "0") <= max;
    const body = c.req.method !== "GET" && small && /json|form|text/.test(type)
      ? await c.req.raw.clone().text()
      : "";
    const query = new URL(c.req.url).searchParams;
    const inQuery = [...query].some(([k, v]) => containsCardNumber(k) || containsCardNumber(v));
    if (containsCardNumber(body) || inQuery) {
      return problem(
        400,
        "Card numbers are not accepted",
        "The request carries what looks like a card number: send the payment provider's token",
        { requestId: c.get("requestId") },
      );
    }
    return await next();
  };
}
