/**
 * JSON-clean copies of values, for the JSON fields of the API's bodies and of audit entries.
 *
 * @module
 */

/** A JSON-clean copy of `value` (undefined fields dropped), typed for JSON fields of the API and audit. */
export function plain(value: object): Record<string, never> {
  return JSON.parse(JSON.stringify(value));
}
