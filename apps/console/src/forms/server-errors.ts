/** A field-level finding from a problem+json answer: `path` is dotted into the request body. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** react-jsonschema-form's shape for errors on fields: nested by path, messages under __errors. */
export interface ErrorTree {
  __errors?: string[];
  [field: string]: ErrorTree | string[] | undefined;
}

/**
 * The Manager's field issues under `prefix` (e.g. "policies.2.config"; "" for a form that is the
 * whole body), as the error tree of the form that edits that part of the body, so each message
 * shows on its own field.
 */
export function errorTreeFor(issues: readonly FieldIssue[], prefix: string): ErrorTree {
  const tree: ErrorTree = {};
  for (const issue of issues) {
    if (prefix && issue.path !== prefix && !issue.path.startsWith(`${prefix}.`)) continue;
    const rest = issue.path === prefix ? [] : (prefix ? issue.path.slice(prefix.length + 1) : issue.path).split('.');
    let node = tree;
    for (const segment of rest) node = (node[segment] ??= {}) as ErrorTree;
    (node.__errors ??= []).push(issue.message);
  }
  return tree;
}

/** The issues no field under any of `prefixes` shows (they go in the form's summary). */
export function issuesOutside(issues: readonly FieldIssue[], prefixes: readonly string[]): FieldIssue[] {
  return issues.filter((i) => !prefixes.some((p) => i.path === p || i.path.startsWith(`${p}.`)));
}
