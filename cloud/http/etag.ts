/**
 * KV revisions as HTTP entity tags: the ETag a response carries and the revision an If-Match
 * header asks for.
 *
 * @module
 */
import type { Context } from "hono";
import { ApiError } from "./problem.ts";

/** The ETag of a KV revision. */
export function etag(revision: number): string {
  return `"${revision}"`;
}

/** The revision an If-Match header asks for: undefined without one, else a positive integer. */
export function ifMatch(c: Context): number | undefined {
  const header = c.req.header("if-match");
  if (header === undefined) return undefined;
  const m = /^"?(\d{1,15})"?$/.exec(header.trim());
  if (!m || Number(m[1]) <= 0) {
    throw new ApiError(
      400,
      "Invalid If-Match",
      `If-Match must be an ETag from this API, got ${JSON.stringify(header)}`,
      { field: "header.if-match" },
    );
  }
  return Number(m[1]);
}
