/**
 * JSON-clean copies of values, for the API's bodies and the JSON fields of audit entries.
 *
 * @module
 */

/**
 * A JSON-clean copy of `value` (undefined fields dropped, readonly arrays made plain), typed as
 * `T`: by default a JSON object for an audit entry's fields, or the schema type of the route's
 * response (`plain<z.infer<typeof Deployment>>(d)`).
 */
export function plain<T = Record<string, never>>(value: unknown): NoInfer<T> {
  return JSON.parse(JSON.stringify(value));
}
