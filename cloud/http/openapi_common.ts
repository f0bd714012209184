/**
 * What the OpenAPI descriptions of the API's routes share: the problem+json schema and
 * responses, JSON responses, and the bearer security requirement.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";

/** The schema of a problem+json body. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  field: z.string().optional(),
})
  .openapi("Problem");

/** The problem+json responses every operator route may give (400, 401, 403, 404). */
export const problemResponses = {
  400: {
    content: { "application/problem+json": { schema: Problem } },
    description: "Invalid request; `field` names the culprit",
  },
  401: {
    content: { "application/problem+json": { schema: Problem } },
    description: "Missing or invalid token",
  },
  403: {
    content: { "application/problem+json": { schema: Problem } },
    description: "The token's role does not allow this",
  },
  404: { content: { "application/problem+json": { schema: Problem } }, description: "Not found" },
} as const;

/** An OpenAPI JSON response of `schema`. */
export const json = <T extends z.ZodType>(
  schema: T,
  description: string,
): { content: { "application/json": { schema: T } }; description: string } => ({
  content: { "application/json": { schema } },
  description,
});

/** The OpenAPI security requirement of operator routes (bearer token). */
export const security: { bearer: string[] }[] = [{ bearer: [] }];
