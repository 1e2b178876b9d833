import type { RequestContext } from '../policy';
import { findQueryParam, withoutQueryParam } from './query-param';

/**
 * Where an authentication policy reads the credential: a header (lower-case name) and, when the
 * policy enables one, a query parameter tried when the header is absent. Usually the policy's
 * own config object, so nothing is built per request.
 */
export interface CredentialSource {
  readonly header: string;
  readonly queryParam: string | null;
}

export const AUTHORIZATION: CredentialSource = Object.freeze({ header: 'authorization', queryParam: null });

/** The credential value the client presented (header first), or undefined when it sent none. */
export function presented(ctx: RequestContext, source: CredentialSource): string | undefined {
  const fromHeader = firstValue(ctx.headers[source.header]);
  if (fromHeader || source.queryParam === null || ctx.query === '') return fromHeader || undefined;
  return findQueryParam(ctx.query, source.queryParam);
}

/**
 * Removes what `presented` read, so the credential does not travel upstream. Headers are
 * read-only, so an empty header here means the value came from the query parameter.
 */
export function withdraw(ctx: RequestContext, source: CredentialSource): void {
  if (source.queryParam !== null && !firstValue(ctx.headers[source.header])) ctx.query = withoutQueryParam(ctx.query, source.queryParam);
  else ctx.strippedHeaders.push(source.header);
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
