/**
 * One-time login links for the dashboard: a random code, stored in the `service` bucket with
 * the token it stands for, that works once (deleted with compare-and-swap on use) and expires.
 *
 * @module
 */
import type { KV } from "@nats-io/kv";
import { isRevisionConflict } from "../fleet/mod.ts";

const CODE = /^[A-Za-z0-9_-]{20,64}$/;

/** Stores a one-time code for `token`, valid `ttlMs` (default 15 min); returns the code. */
export async function createLoginCode(
  service: KV,
  token: string,
  options: { ttlMs?: number } = {},
): Promise<string> {
  const code = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24)))).replaceAll(
    "+",
    "-",
  ).replaceAll("/", "_")
    .replaceAll("=", "");
  const body = JSON.stringify({ token, expiresAt: Date.now() + (options.ttlMs ?? 15 * 60_000) });
  await service.create(`login.${code}`, new TextEncoder().encode(body));
  return code;
}

/** The token of a code, consuming the code; undefined when unknown, used or expired. */
export async function redeemLoginCode(service: KV, code: string): Promise<string | undefined> {
  if (!CODE.test(code)) return undefined;
  const entry = await service.get(`login.${code}`);
  if (!entry || entry.operation !== "PUT" || entry.value.length === 0) return undefined;
  try {
    await service.delete(`login.${code}`, { previousSeq: entry.revision }); // a second use loses this race
  } catch (e) {
    // Used meanwhile (the other use won the race); a delete that fails otherwise propagates.
    if (!isRevisionConflict(e)) throw e;
    return undefined;
  }
  const { token, expiresAt } = JSON.parse(new TextDecoder().decode(entry.value)) as {
    token: string;
    expiresAt: number;
  };
  return Date.now() <= expiresAt ? token : undefined;
}
