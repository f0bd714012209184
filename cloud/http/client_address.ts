/**
 * The address a request came from, as the server saw the connection (`Deno.serve` hands it to
 * the app as its environment). Forwarding headers are not believed: anyone can write them.
 *
 * @module
 */
import type { Context } from "hono";

/** The peer's IP address, or `unknown` (a request made in-process, as tests do). */
export function clientAddress(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: unknown } } | undefined;
  const host = env?.remoteAddr?.hostname;
  return typeof host === "string" && host ? host : "unknown";
}
