import type { z } from 'zod';
import type { CredentialDirectory, DirectoryCredential } from './credential-directory';
import type { RateLimitStore } from './rate-limit/rate-limit.store';
import type { PasswordVerificationCache } from './basic-auth/password-verification.cache';
import type { DigestNonceStore } from './digest-auth/digest-nonce.store';
import type { OpaqueTokenRecord, RevokedTokenIds, SigningKeyRing } from '@idm/tokens';

/** Live opaque access tokens, as the oauth2-auth policy needs them (the Gateway's token store). */
export interface OpaqueTokenLookup {
  /** null: unknown, expired or revoked. Throws TokenStoreUnavailable when the store cannot answer. */
  lookup(token: string): Promise<OpaqueTokenRecord | null>;
}

/**
 * The issuer URLs of this environment's token service (`<public URL>/credential` and `/auth`),
 * which jwt-auth accepts when its policy names none.
 */
export interface OwnIssuers {
  /** Configured (GATEWAY_PUBLIC_URL): exact, the same for every request. null: they follow each request's host. */
  readonly fixed: readonly string[] | null;
  /** Without `fixed`: true when `iss` is the issuer of the host this request came to (what minting there would have put). */
  isRequestIssuer(iss: string, ctx: RequestContext): boolean;
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
  };
}

/** A policy's "no": rendered by the Gateway as a JSON error with the given status and headers. */
export interface PolicyRejection {
  status: number;
  code: string;
  message: string;
  headers?: Readonly<Record<string, string | readonly string[]>>;
}

/**
 * How an authentication policy builds its 401 answers, once at compile time: frozen, and all with
 * the one WWW-Authenticate challenge the client needs to try again.
 */
export function challengeRejections(challenge: string): (code: string, message: string) => PolicyRejection {
  const headers = Object.freeze({ 'www-authenticate': challenge });
  return (code, message) => Object.freeze({ status: 401, code, message, headers });
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
  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome>;
}

/** What a policy may use at compile time: the proxy it guards and the revision's shared state. */
export interface PolicyCompileDeps {
  proxy: { id: string; projectId: string; basePath: string };
  directory: CredentialDirectory;
  passwordCache: PasswordVerificationCache;
  /** Shared counters for rate limits and quotas; null when the host has none (such policies then fail to compile). */
  rateLimitStore: RateLimitStore | null;
  /** Called when the store failed to answer (the rule's fail-open/closed setting decides the request). */
  onRateLimitStoreError: (err: unknown) => void;
  /** Milliseconds since the epoch; injectable so expiry is testable. */
  now: () => number;
  /** Opens SecretBox envelopes from the snapshot (digest HA1); absent: such policies fail to compile. */
  secrets?: { open(sealed: string): string } | null;
  /** Digest nonce signing key (shared by the installation's Gateways) and nonce-count store. */
  digest?: { nonceKey: Buffer; nonceStore: DigestNonceStore } | null;
  /** The environment's signing keys (jwt-auth); absent or empty: no JWT can verify. */
  keyRing?: SigningKeyRing;
  /** The environment's opaque token store (oauth2-auth); absent: such policies fail to compile. */
  opaqueTokens?: OpaqueTokenLookup | null;
  /** Environment name, which opaque tokens are bound to. */
  environment?: string;
  /** This environment's own token issuers (jwt-auth's default); absent: only a policy's explicit `issuers` are accepted. */
  issuers?: OwnIssuers | null;
  /** Revoked JWT ids shared by the environment's Gateways (jwt-auth refuses them). */
  revokedJwts?: RevokedTokenIds | null;
}

export interface PolicyDefinition<Schema extends z.ZodType = z.ZodType> {
  readonly type: string;
  /** Strict zod schema of the policy's config; defaults are applied by it. */
  readonly schema: Schema;
  compile(config: z.output<Schema>, deps: PolicyCompileDeps): Policy;
}
