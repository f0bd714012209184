/**
 * API errors as RFC 9457 problem documents (application/problem+json), naming the field when
 * a request is refused for one.
 *
 * @module
 */

/** An error the API answers with a problem document. */
export class ApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Short title. */
  readonly title: string;
  /** The request field at fault, when there is one (`query.limit`, `body.args.durationMs`). */
  readonly field: string | undefined;
  /** Creates the error. */
  constructor(
    status: number,
    title: string,
    detail: string,
    options: { field?: string; cause?: unknown } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.field = options.field;
  }
}

/** A problem document response. */
export function problem(
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): Response {
  return new Response(JSON.stringify({ type: "about:blank", title, status, detail, ...extra }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}
