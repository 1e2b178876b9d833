import type { RejectionCode } from './rejection-reasons';

/*
 * The kernel contract between the Gateway and every policy. It imports no policy, store or
 * directory (they all import it), so the type graph has no circle; what a policy needs at
 * compile time is in compile-dependencies.ts.
 */

/**
 * One credential of the serving revision, as the credential directory holds it and the request
 * the credential authenticated as (`RequestContext.credential`). Expiry is parsed to a number
 * once per revision, never per request.
 */
export interface DirectoryCredential {
  readonly id: string;
  readonly projectId: string;
  readonly username: string;
  /** argon2id PHC string, or null when the credential has no password. */
  readonly passwordHash: string | null;
  readonly enabled: boolean;
  /** Epoch milliseconds, or null when it never expires. */
  readonly expiresAt: number | null;
  /** Authorization rules applied after authentication; null when it has none. */
  readonly rules: CredentialRuleSet | null;
  /** Sealed digest HA1 record (opened by digest-auth when used), or null. */
  readonly digestHa1: string | null;
  /** PEM CA certificates for mtls-auth validation. */
  readonly truststore: readonly string[];
  /** Roles forwarded upstream and checked by bearer-token policies. */
  readonly roles: readonly string[];
}

/**
 * A credential's authorization rules as the chain runs them after authentication (compiled by
 * credential-rules/, which this contract does not depend on).
 */
export interface CredentialRuleSet {
  evaluate(ctx: RequestContext, proxy: { id: string; basePath: string }, now: number): PolicyOutcome | Promise<PolicyOutcome>;
  /** What the credential may do on LLM routes (enforced by llm-route once the call's body is read); null: no LLM rules. */
  readonly llm: CredentialLlmRules | null;
}

/** A credential's model allow-list and token quotas (`access.llm`), compiled once per revision. */
export interface CredentialLlmRules {
  /** null: any model. */
  readonly models: ReadonlySet<string> | null;
  readonly tokenQuotas: readonly { readonly limit: number; readonly period: 'minute' | 'day' | 'month' }[];
  /** Redis cannot answer: true lets the call through uncounted, false refuses it. */
  readonly failOpen: boolean;
}

/** Who the request was authenticated as; forwarded upstream as X-Authenticated-* headers. */
export interface Identity {
  credentialId: string;
  username: string;
  projectId: string;
}

/**
 * Everything that belongs to one request. Compiled policies are shared by all requests, so any
 * per-request state (identity, headers to add or strip, a rewritten query) lives here and dies
 * with the request.
 */
export interface RequestContext {
  readonly method: string;
  /** Request path without the query string, as received (not decoded). */
  readonly path: string;
  /** Incoming headers, lower-case names (Node's `IncomingMessage.headers`). Read-only. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Raw query string without the leading "?"; a policy may rewrite it (e.g. to strip a key). */
  query: string;
  readonly clientIp: string;
  /**
   * The connection the request came on (a TLSSocket on the HTTPS listener: mtls-auth reads the
   * client certificate from it only when it runs); null where there is none (unit tests).
   */
  readonly socket: import('node:net').Socket | null;
  identity: Identity | null;
  /**
   * The credential the request authenticated as (set together with `identity`), so the
   * credential's authorization rules run without a second lookup.
   */
  credential: DirectoryCredential | null;
  /** Headers a policy adds to the response to the client (e.g. RateLimit-*); null until one does. */
  responseHeaders: Record<string, string> | null;
  /** Headers a policy adds to the upstream request. */
  readonly upstreamHeaders: Record<string, string>;
  /** Lower-case names of incoming headers a policy consumed and that must not go upstream. */
  readonly strippedHeaders: string[];
  /** The type of the policy running, set by the chain before each one: after a refusal, the policy that refused (for the auth record). */
  policy: string | null;
  /**
   * Who the request claimed to be, as an authentication policy read it before verifying anything
   * (a username; an API key's visible prefix): what the auth record and failure counting know
   * of a refused request. Never a password or a whole key.
   */
  claimedUsername: string | null;
  claimedKeyPrefix: string | null;
  /** The OAuth client a verified access token was issued to (jwt-auth, oauth2-auth; `client_id`/`azp` of a key manager's token): the auth record's clientId. */
  tokenClientId: string | null;
  /**
   * Who issued the bearer token (the auth record's issuer): the verified `iss` of our own JWT, our
   * token service's URL for our opaque tokens, a key manager's issuer once its token was routed to
   * it (set before verification, so refusals count per key manager too). null for other policies.
   */
  tokenIssuer: string | null;
  /** The bearer token's format as checked (a key manager's token: JWT verified locally or introspected); null: the policy's own default. */
  tokenType: 'jwt' | 'opaque' | null;
  /**
   * The whole request body, read only when a policy of the proxy reads it (`readsRequestBody`);
   * a policy may replace it (what goes upstream). null otherwise, and for a request without one.
   */
  body: Buffer | null;
  /** Content-Type for a replaced body; null: the client's. */
  bodyContentType: string | null;
  /** Values policies hand to later ones (`${var.<name>}`); null until one sets any. */
  variables: Record<string, string> | null;
}

/** The upstream's answer as response-phase policies see and rewrite it (read whole). */
export interface PolicyResponse {
  status: number;
  /** Lower-case names. */
  readonly headers: Record<string, string | string[]>;
  body: Buffer;
}

export function createRequestContext(init: {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  query: string;
  clientIp: string;
  socket?: import('node:net').Socket | null;
}): RequestContext {
  // A literal of fixed shape (not a spread): this runs on every request.
  return {
    method: init.method,
    path: init.path,
    headers: init.headers,
    query: init.query,
    clientIp: init.clientIp,
    socket: init.socket ?? null,
    identity: null,
    credential: null,
    responseHeaders: null,
    upstreamHeaders: {},
    strippedHeaders: [],
    policy: null,
    claimedUsername: null,
    claimedKeyPrefix: null,
    tokenClientId: null,
    tokenIssuer: null,
    tokenType: null,
    body: null,
    bodyContentType: null,
    variables: null,
  };
}

/** A policy's "no": rendered by the Gateway as a JSON error with the given status and headers. */
export interface PolicyRejection {
  status: number;
  code: RejectionCode;
  message: string;
  headers?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * How the auth record counts it when not a plain denial: `throttled` (a limit, implied by 429),
   * `blocked` (a block list), or `success` (an answer the policy gives instead of forwarding on a
   * success: the oidc policy's redirect after a completed login or a logout).
   */
  outcome?: 'throttled' | 'blocked' | 'success';
}

/** `undefined` means "continue with the next policy". */
export type PolicyOutcome = PolicyRejection | undefined;

/**
 * A compiled, immutable policy. `execute` is synchronous where it can be so that the common case
 * costs no promise; it returns a promise only when it must wait (e.g. a cold argon2 verify).
 */
export interface Policy {
  readonly type: string;
  /**
   * True for policies that establish `ctx.identity`: the credential's own rules (ACL, IP, time,
   * rate limits) run right after the first of them.
   */
  readonly authenticates?: boolean;
  /**
   * Lower-case names of the upstream headers this policy may set beyond the identity headers
   * (e.g. jwt-auth's claim headers). A client's header of such a name is never forwarded, also
   * on a request where the policy sets none (a token without that claim).
   */
  readonly upstreamHeaderNames?: readonly string[];
  /** True when `execute` needs `ctx.body`: the Gateway then reads the request body (bounded) before the chain. */
  readonly readsRequestBody?: boolean;
  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome>;
  /**
   * Runs on the upstream's answer, read whole (bounded), before it goes to the client; policies
   * that have it run in reverse chain order. A rejection replaces the answer.
   */
  onResponse?(ctx: RequestContext, response: PolicyResponse): PolicyOutcome | Promise<PolicyOutcome>;
}
