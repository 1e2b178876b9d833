/** One field-level finding, with the path into the request body. */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * Every error the Manager answers with: rendered as RFC 9457 application/problem+json by
 * ProblemFilter. `code` is the stable, machine-readable reason clients switch on.
 */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldIssue[],
    /** Extra members of the problem document (RFC 9457 extensions), e.g. the missing permission. */
    readonly extensions?: Record<string, unknown>,
    /** Response headers that belong to the answer, e.g. Retry-After on 429. */
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
  }

  static notFound(kind: string, id: string): ProblemError {
    return new ProblemError(404, `${kind}_not_found`, 'Not found', `${kind.replace(/_/g, ' ')} '${id}' does not exist`);
  }

  static validation(errors: FieldIssue[]): ProblemError {
    return new ProblemError(400, 'validation_failed', 'Request validation failed', 'one or more fields are invalid', errors);
  }

  static conflict(code: string, detail: string, path?: string): ProblemError {
    return new ProblemError(409, code, 'Conflict', detail, path ? [{ path, message: detail }] : undefined);
  }
}
