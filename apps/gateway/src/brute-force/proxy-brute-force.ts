import type { PolicyRejection, RequestContext } from '@idm/policies';
import { attemptedCredential, type BlockVerdict, type BruteForceGuard } from './brute-force-guard';

/** What the proxy path reports per decision, as far as failure counting reads it (the auth record's fields). */
export interface AuthDecision {
  proxyId: string | null;
  policy: string | null;
  reason: string | null;
  username: string | null;
  clientIp: string;
}

/** The policies whose refusal is a wrong secret: their failures are guesses. */
const GUESSED_BY = new Set(['basic-auth', 'base64-auth', 'digest-auth', 'api-key']);
/** Refusals that mean "wrong password / unknown user / unknown key" (not a missing or unreadable header, not a disabled account). */
const GUESS_FAILURES = new Set(['invalid_credentials', 'invalid_api_key']);

const MESSAGES: Record<BlockVerdict['code'], string> = {
  credential_locked: 'Too many failed authentications for this credential; try again later',
  address_blocked: 'Too many failed authentications from this address; try again later',
  credential_address_locked: 'Too many failed authentications for this credential from this address; try again later',
};

/**
 * Brute-force protection on the proxy path. A blocked address is refused before any policy
 * runs. A blocked credential is refused after the chain, whatever it decided: the username is
 * only read by the authentication policy, and a right password must not get through a lock (nor
 * end it early). Failures are counted from the auth records (`countFailure`, subscribed to the
 * Gateway's AuthRecorder): wrong passwords per credential of the proxy's project, per address and
 * per both; wrong API keys per address only (a key names no credential until it matches one).
 */
export class ProxyBruteForce {
  constructor(
    private readonly guard: BruteForceGuard,
    /** The project of a proxy of the serving revision (usernames are unique per project). */
    private readonly projectOf: (proxyId: string) => string | undefined,
  ) {}

  /** Before the chain: the address's block, or null. */
  addressRefusal(clientIp: string): PolicyRejection | null {
    const verdict = this.guard.blocked(null, clientIp);
    return verdict === null ? null : refusal(verdict);
  }

  /**
   * After the chain: a block of the credential the request authenticated as (or claimed to be)
   * replaces the chain's answer. A claim counts only from a password policy: what another policy
   * claims (the `oidc` policy's external user id) names no credential of the project, and must not
   * be refused because a credential of that name is locked.
   */
  credentialRefusal(ctx: RequestContext, projectId: string, decided: PolicyRejection | undefined): PolicyRejection | undefined {
    const username = ctx.identity?.username ?? (ctx.policy !== null && GUESSED_BY.has(ctx.policy) ? ctx.claimedUsername : null);
    if (username === null || this.guard.idle) return decided;
    const verdict = this.guard.blocked(credentialOf(projectId, username), ctx.clientIp);
    return verdict === null ? decided : refusal(verdict);
  }

  /** The auth-record listener: counts a failed guess for the fleet (off the request path: the count goes to Redis asynchronously). */
  readonly countFailure = (decision: AuthDecision): void => {
    if (decision.proxyId === null || decision.policy === null || decision.reason === null) return;
    if (!GUESSED_BY.has(decision.policy) || !GUESS_FAILURES.has(decision.reason)) return;
    const projectId = this.projectOf(decision.proxyId);
    const credential = decision.username === null || projectId === undefined ? null : credentialOf(projectId, decision.username);
    void this.guard.failed({ credential, address: decision.clientIp, source: 'proxy' });
  };
}

/** Cut as the auth record cuts it (256), so the check finds what the count from the record stored. */
const credentialOf = (projectId: string, username: string) => {
  const name = username.length <= 256 ? username : username.slice(0, 256);
  return attemptedCredential(`${projectId}:${name}`, name, projectId);
};

function refusal(verdict: BlockVerdict): PolicyRejection {
  return { status: 429, code: verdict.code, message: MESSAGES[verdict.code], headers: { 'retry-after': String(verdict.retryAfterSeconds) }, outcome: 'blocked' };
}
