import { clipped, type AuthOutcome, type AuthRecord } from '@idm/config-bus';
import type { CompiledProxy, PolicyRejection, RequestContext } from '@idm/policies';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthRecordIds } from './auth-record-ids';

/** What a token endpoint knew of its caller when it decided (filled in as it goes; never a secret). */
export interface TokenCallSubject {
  /** The client id presented (a credential's id or username, a proxy client's id); once authenticated, the id its tokens carry. */
  clientId: string | null;
  /** The resource owner of a password grant, as presented. */
  username: string | null;
  /** The credential that authenticated (client, or the token's owner). */
  credentialId: string | null;
  /** The proxy whose token-service client it is (`/auth`). */
  proxyId: string | null;
  /** The project of the client that authenticated. */
  projectId: string | null;
}

/** A token endpoint's decision: its path, the issuer, the token format and how it ended. */
export interface TokenDecision {
  endpoint: string;
  issuer: string | null;
  tokenType: 'opaque' | 'jwt' | null;
  status: number;
  /** The OAuth error code; null on success. */
  error: string | null;
}

/**
 * Builds auth records from what the request path has at hand. One object literal of fixed shape
 * per decision; the caller asks only when `AuthRecorder.active`.
 */
export function emptyTokenCallSubject(): TokenCallSubject {
  return { clientId: null, username: null, credentialId: null, proxyId: null, projectId: null };
}

/** What a decision sets in its record; time, address, country, user agent, request id and latency are the factory's. */
export type DecidedFields = Pick<
  AuthRecord,
  'proxyId' | 'proxyName' | 'projectId' | 'policy' | 'outcome' | 'reason' | 'status' | 'credentialId' | 'username' | 'keyPrefix' | 'tokenType'
> & { clientId: string | null };

/** The client's country for a record, or null when unknown or not looked up. */
export type CountryOfRecord = (clientIp: string) => string | null;

export class AuthRecordFactory {
  private readonly ids = new AuthRecordIds();

  constructor(
    private readonly environment: string,
    private readonly gatewayId: string,
    private readonly now: () => number = Date.now,
    private readonly countryOf: CountryOfRecord = () => null,
  ) {}

  /** A proxy's policy chain: `rejection` undefined is a success (the request is forwarded). */
  ofProxy(requestId: string, startedAt: number, headers: IncomingHttpHeaders, proxy: CompiledProxy, ctx: RequestContext, rejection: PolicyRejection | undefined): AuthRecord {
    const time = this.now();
    const identity = ctx.identity;
    const record = this.record(time, requestId, startedAt, headers, ctx.clientIp, {
      proxyId: proxy.id,
      proxyName: proxy.name,
      projectId: proxy.projectId,
      policy: rejection === undefined ? proxy.authenticationPolicy : ctx.policy,
      outcome: rejection === undefined ? 'success' : outcomeOf(rejection.status, rejection.outcome),
      reason: rejection === undefined ? null : rejection.code,
      status: rejection === undefined ? 200 : rejection.status,
      credentialId: identity?.credentialId ?? null,
      username: identity?.username ?? clipped(ctx.claimedUsername, 256),
      keyPrefix: ctx.claimedKeyPrefix,
      clientId: clipped(ctx.tokenClientId, 256),
      tokenType: ctx.tokenType ?? tokenTypeOf(rejection === undefined ? proxy.authenticationPolicy : ctx.policy),
    });
    // A bearer policy's token issuer (our token service or a key manager); null for passwords and API keys.
    record.issuer = clipped(ctx.tokenIssuer, 500);
    return record;
  }

  ofTokenEndpoint(requestId: string, startedAt: number, headers: IncomingHttpHeaders, clientIp: string, subject: TokenCallSubject, decision: TokenDecision): AuthRecord {
    const time = this.now();
    const record = this.record(time, requestId, startedAt, headers, clientIp, {
      proxyId: subject.proxyId,
      proxyName: null,
      projectId: subject.projectId,
      policy: `token-endpoint:${decision.endpoint}`,
      outcome: decision.error === null ? 'success' : outcomeOf(decision.status, undefined),
      reason: decision.error,
      status: decision.status,
      credentialId: subject.credentialId,
      username: clipped(subject.username ?? subject.clientId, 256),
      keyPrefix: null,
      clientId: clipped(subject.clientId, 256),
      tokenType: decision.tokenType,
    });
    record.issuer = clipped(decision.issuer, 500);
    return record;
  }

  /** A decision mapped elsewhere (the OP login: `oidc/login-records.ts`): the fields it decided, the rest filled in here. */
  ofDecision(requestId: string, startedAt: number, headers: IncomingHttpHeaders, clientIp: string, decided: DecidedFields): AuthRecord {
    return this.record(this.now(), requestId, startedAt, headers, clientIp, decided);
  }

  private record(time: number, requestId: string, startedAt: number, headers: IncomingHttpHeaders, clientIp: string, decided: DecidedFields): AuthRecord {
    return {
      id: this.ids.next(),
      time,
      environment: this.environment,
      gatewayId: this.gatewayId,
      proxyId: decided.proxyId,
      proxyName: decided.proxyName,
      projectId: decided.projectId,
      policy: decided.policy,
      outcome: decided.outcome,
      reason: decided.reason,
      status: decided.status,
      credentialId: decided.credentialId,
      username: decided.username,
      keyPrefix: decided.keyPrefix,
      clientId: decided.clientId,
      issuer: null,
      tokenType: decided.tokenType,
      clientIp,
      country: this.countryOf(clientIp),
      userAgent: clipped(headers['user-agent'], 512),
      requestId: requestId.length <= 200 ? requestId : requestId.slice(0, 200),
      latencyMs: Math.max(0, Math.round((performance.now() - startedAt) * 1000) / 1000),
      llm: null,
    };
  }
}

export function outcomeOf(status: number, declared: 'throttled' | 'blocked' | 'success' | undefined): AuthOutcome {
  if (declared !== undefined) return declared;
  return status === 429 ? 'throttled' : 'denied';
}

/** The bearer policy's own token format, when no token was told apart (e.g. none presented). */
function tokenTypeOf(policy: string | null): 'jwt' | 'opaque' | null {
  if (policy === 'jwt-auth') return 'jwt';
  if (policy === 'oauth2-auth') return 'opaque';
  return null;
}
