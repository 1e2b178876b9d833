import { oidcConsentKey } from '@idm/config-bus';
import { TokenStoreUnavailable } from '@idm/tokens';
import { createHash, randomBytes } from 'node:crypto';
import type Redis from 'ioredis';

/** A validated authorization request waiting for the user to log in (the login page's transaction). */
export interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string | null;
  nonce: string | null;
  codeChallenge: string | null;
  maxAge: number | null;
  /** RFC 9449 §10: the DPoP key (JWK thumbprint) the code will be bound to; absent or null: none. */
  dpopJkt?: string | null;
  /** `prompt=consent`: ask even when the user already agreed to these scopes. */
  forceConsent?: boolean;
  /** Set once the user is known (logged in, or by the SSO session) and only consent is missing. */
  user?: { credentialId: string; authTime: number; sessionId: string };
  /** Binds the login form to the browser that started it: equal to the `idm_csrf` cookie and the form's field. */
  csrf: string;
}

/** What a code stands for; bound to its client, redirect URI and PKCE challenge. */
export interface CodeGrant {
  clientId: string;
  redirectUri: string;
  scope: string;
  nonce: string | null;
  codeChallenge: string | null;
  /** RFC 9449 §10: the token request must prove this DPoP key (absent or null: any or none). */
  dpopJkt?: string | null;
  credentialId: string;
  authTime: number;
  sessionId: string;
}

/**
 * A sign-in sent to an external IdP (an `oidc` identity source), kept under its `state` until the
 * IdP's callback takes it once: which login transaction it continues, with which source, and the
 * nonce and PKCE verifier the callback must check against.
 */
export interface ExternalLogin {
  transaction: string;
  source: string;
  nonce: string;
  verifier: string;
}

/**
 * A sign-in sent to a SAML IdP (a `saml` identity source), kept under the RelayState until the
 * IdP's Response reaches the ACS: the login transaction it continues, with which source, and the
 * AuthnRequest's ID the Response's InResponseTo must name. Server side: the ACS POST comes
 * cross-site, without the browser's SameSite cookies.
 */
export interface SamlLogin {
  transaction: string;
  source: string;
  requestId: string;
}

/** A SAML Response the ACS verified, waiting (briefly) for the same browser to come back on a same-site GET with its cookies. */
export interface SamlVerified {
  transaction: string;
  source: string;
  identity: { username: string; email: string | null; displayName: string | null; groups: string[] };
}

/** An SSO session: who logged in, and when (`auth_time`). */
export interface SsoSession {
  credentialId: string;
  authTime: number;
}

/** The outcome of presenting a code: its grant, or a replay (with the access token issued from it, if any, to revoke). */
export type CodeRedemption =
  | { outcome: 'redeemed'; grant: CodeGrant }
  | { outcome: 'replayed'; issued: { jti: string; exp: number; familyId?: string } | null }
  | { outcome: 'dpop_mismatch' }
  | { outcome: 'unknown' };

/** A pushed authorization request (RFC 9126): the client that pushed it and its parameters, as sent. */
export interface PushedAuthorization {
  clientId: string;
  params: string;
}

/** The outcome of presenting a `request_uri`: its request (now spent), another client's, or none (unknown, expired or used). */
export type PushedRedemption = { outcome: 'taken'; pushed: PushedAuthorization } | { outcome: 'other_client' } | { outcome: 'unknown' };

/** RFC 9126 §2.2: the URN prefix of the `request_uri` values this provider hands out. */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';

/** A consent not used for a year is asked again. */
export const CONSENT_TTL_SECONDS = 365 * 86_400;

const random = (): string => randomBytes(32).toString('base64url');
const hashOf = (value: string): string => createHash('sha256').update(value).digest('base64url');

/*
 * A code bound to a DPoP key (RFC 9449 §10) is redeemed only with a proof by that key (ARGV[2], ''
 * when none was proved); otherwise it is left unspent, so whoever lacks the key cannot use up the
 * holder's code. Redeeming a code is one script: the code is deleted and a "used" marker written in its place
 * (kept as long as tokens issued from it may live), so a second redemption — concurrent or later —
 * finds the marker, flags it as replayed and gets the access token's id and the refresh family to
 * revoke. The exchange that won records them with RECORD_ISSUED, which answers "replayed" when a
 * replay came first, so the winner revokes its own tokens too.
 */
const REDEEM = `
local grant = redis.call('GET', KEYS[1])
if grant then
  local jkt = cjson.decode(grant).dpopJkt
  if type(jkt) == 'string' and jkt ~= ARGV[2] then return {'dpop_mismatch', ''} end
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '{}', 'EX', ARGV[1])
  return {'redeemed', grant}
end
local used = redis.call('GET', KEYS[2])
if not used then return {'unknown', ''} end
local marker = cjson.decode(used)
marker.replayed = true
redis.call('SET', KEYS[2], cjson.encode(marker), 'KEEPTTL')
return {'replayed', used}
`;
/*
 * A pushed request is spent by the client it was pushed by, once: compared and deleted in one
 * step, so two concurrent /authorize calls cannot both use it, and another client presenting the
 * URI neither uses nor spends it.
 */
const TAKE_PUSHED = `
local pushed = redis.call('GET', KEYS[1])
if not pushed then return {'unknown', ''} end
if cjson.decode(pushed).clientId ~= ARGV[1] then return {'other_client', ''} end
redis.call('DEL', KEYS[1])
return {'taken', pushed}
`;
const RECORD_ISSUED = `
local used = redis.call('GET', KEYS[1])
if not used then return 'gone' end
local marker = cjson.decode(used)
marker.jti = ARGV[1]
marker.exp = tonumber(ARGV[2])
if ARGV[3] ~= '' then marker.familyId = ARGV[3] end
redis.call('SET', KEYS[1], cjson.encode(marker), 'KEEPTTL')
if marker.replayed then return 'replayed' end
return 'ok'
`;

/**
 * The OpenID Provider's state in Redis, shared by every Gateway of the environment (one hash
 * tag, so scripts may touch several keys on a Cluster): pending logins, pushed authorization
 * requests, authorization codes and SSO sessions, each stored under the SHA-256 of its secret value, so what Redis holds cannot be
 * replayed by whoever reads it.
 */
export class OidcStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly environment: string,
  ) {
    this.prefix = `{idm:oidc:${environment}}`;
  }

  async savePending(pending: Omit<PendingAuthorization, 'csrf'>, ttlSeconds: number): Promise<{ id: string; csrf: string }> {
    const id = random();
    const csrf = random();
    await this.guard(() => this.redis.set(this.key('login', id), JSON.stringify({ ...pending, csrf }), 'EX', ttlSeconds));
    return { id, csrf };
  }

  async pending(id: string): Promise<PendingAuthorization | null> {
    const raw = await this.guard(() => this.redis.get(this.key('login', id)));
    return raw === null ? null : (JSON.parse(raw) as PendingAuthorization);
  }

  /** Rewrites a pending request (the login step done, the consent step next), keeping its remaining time. */
  async updatePending(id: string, pending: PendingAuthorization): Promise<void> {
    await this.guard(() => this.redis.set(this.key('login', id), JSON.stringify(pending), 'KEEPTTL'));
  }

  async dropPending(id: string): Promise<void> {
    await this.guard(() => this.redis.del(this.key('login', id)));
  }

  /** Stores a validated pushed authorization request; its `request_uri` (the random part is the secret). */
  async pushAuthorization(pushed: PushedAuthorization, ttlSeconds: number): Promise<string> {
    const reference = random();
    await this.guard(() => this.redis.set(this.key('par', reference), JSON.stringify(pushed), 'EX', ttlSeconds));
    return REQUEST_URI_PREFIX + reference;
  }

  /** Spends a pushed request for `clientId` (the credential id of the client at /authorize). */
  async takePushed(requestUri: string, clientId: string): Promise<PushedRedemption> {
    if (!requestUri.startsWith(REQUEST_URI_PREFIX) || requestUri.length > 128) return { outcome: 'unknown' };
    const reference = requestUri.slice(REQUEST_URI_PREFIX.length);
    const [outcome, value] = (await this.guard(() => this.redis.eval(TAKE_PUSHED, 1, this.key('par', reference), clientId))) as [string, string];
    if (outcome === 'taken') return { outcome, pushed: JSON.parse(value) as PushedAuthorization };
    return outcome === 'other_client' ? { outcome } : { outcome: 'unknown' };
  }

  async issueCode(grant: CodeGrant, ttlSeconds: number): Promise<string> {
    const code = random();
    await this.guard(() => this.redis.set(this.key('code', code), JSON.stringify(grant), 'EX', ttlSeconds));
    return code;
  }

  /**
   * `usedTtlSeconds`: how long a replay is still recognized (the longest an issued token lives);
   * `provedJkt`: the DPoP key the token request proved, if any (a code bound to another stays unspent).
   */
  async redeem(code: string, usedTtlSeconds: number, provedJkt?: string): Promise<CodeRedemption> {
    const [outcome, value] = (await this.guard(() => this.redis.eval(REDEEM, 2, this.key('code', code), this.key('used', code), String(usedTtlSeconds), provedJkt ?? ''))) as [
      string,
      string,
    ];
    if (outcome === 'dpop_mismatch') return { outcome };
    if (outcome === 'redeemed') return { outcome, grant: JSON.parse(value) as CodeGrant };
    if (outcome === 'replayed') {
      const marker = JSON.parse(value) as { jti?: string; exp?: number; familyId?: string };
      return {
        outcome,
        issued:
          marker.jti !== undefined && marker.exp !== undefined ? { jti: marker.jti, exp: marker.exp, ...(marker.familyId !== undefined && { familyId: marker.familyId }) } : null,
      };
    }
    return { outcome: 'unknown' };
  }

  /** Records the access token (and refresh family) issued from a code; false when a replay of the code came first. */
  async recordIssued(code: string, jti: string, exp: number, familyId = ''): Promise<boolean> {
    const answer = await this.guard(() => this.redis.eval(RECORD_ISSUED, 1, this.key('used', code), jti, String(exp), familyId));
    return answer === 'ok';
  }

  async saveExternalLogin(state: string, login: ExternalLogin, ttlSeconds: number): Promise<void> {
    await this.guard(() => this.redis.set(this.key('external', state), JSON.stringify(login), 'EX', ttlSeconds));
  }

  /** Takes the sign-in a callback's `state` names, once (GETDEL: a replayed callback finds nothing, on any Gateway). */
  async takeExternalLogin(state: string): Promise<ExternalLogin | null> {
    const raw = await this.guard(() => this.redis.getdel(this.key('external', state)));
    return raw === null ? null : (JSON.parse(raw) as ExternalLogin);
  }

  async saveSamlLogin(relayState: string, login: SamlLogin, ttlSeconds: number): Promise<void> {
    await this.guard(() => this.redis.set(this.key('saml', relayState), JSON.stringify(login), 'EX', ttlSeconds));
  }

  /** Takes the sign-in a Response's RelayState names, once (GETDEL): a replayed Response finds nothing, on any Gateway. */
  async takeSamlLogin(relayState: string): Promise<SamlLogin | null> {
    const raw = await this.guard(() => this.redis.getdel(this.key('saml', relayState)));
    return raw === null ? null : (JSON.parse(raw) as SamlLogin);
  }

  async saveSamlVerified(handle: string, verified: SamlVerified, ttlSeconds: number): Promise<void> {
    await this.guard(() => this.redis.set(this.key('saml-ok', handle), JSON.stringify(verified), 'EX', ttlSeconds));
  }

  async takeSamlVerified(handle: string): Promise<SamlVerified | null> {
    const raw = await this.guard(() => this.redis.getdel(this.key('saml-ok', handle)));
    return raw === null ? null : (JSON.parse(raw) as SamlVerified);
  }

  async openSession(session: SsoSession, ttlSeconds: number): Promise<string> {
    const id = random();
    await this.guard(() => this.redis.set(this.key('session', id), JSON.stringify(session), 'EX', ttlSeconds));
    return id;
  }

  async session(id: string): Promise<SsoSession | null> {
    const raw = await this.guard(() => this.redis.get(this.key('session', id)));
    return raw === null ? null : (JSON.parse(raw) as SsoSession);
  }

  async endSession(id: string): Promise<void> {
    await this.guard(() => this.redis.del(this.key('session', id)));
  }

  /** Remembers a client assertion's `jti` until it expires; false when it was already used. */
  async claimAssertion(clientId: string, jti: string, ttlSeconds: number): Promise<boolean> {
    const set = await this.guard(() => this.redis.set(this.key('assertion', `${clientId}\n${jti}`), '1', 'EX', Math.max(ttlSeconds, 1), 'NX'));
    return set === 'OK';
  }

  /*
   * Consents: one hash per user (field: client id, value: the scopes agreed to), so the user's
   * consent page lists them in one read and a revocation is one HDEL. Not secrets: plain keys.
   * Kept for CONSENT_TTL_SECONDS after the last grant, then asked again.
   */
  async consentedScopes(credentialId: string, clientId: string): Promise<Set<string>> {
    const raw = await this.guard(() => this.redis.hget(this.consentKey(credentialId), clientId));
    return new Set(raw ? raw.split(' ') : []);
  }

  async grantConsent(credentialId: string, clientId: string, scopes: Iterable<string>): Promise<void> {
    const key = this.consentKey(credentialId);
    await this.guard(() =>
      this.redis
        .multi()
        .hset(key, clientId, [...new Set(scopes)].join(' '))
        .expire(key, CONSENT_TTL_SECONDS)
        .exec(),
    );
  }

  async consents(credentialId: string): Promise<Map<string, Set<string>>> {
    const all = await this.guard(() => this.redis.hgetall(this.consentKey(credentialId)));
    return new Map(Object.entries(all).map(([clientId, scopes]) => [clientId, new Set(scopes.split(' '))]));
  }

  /** True when there was a consent to revoke. */
  async revokeConsent(credentialId: string, clientId: string): Promise<boolean> {
    return (await this.guard(() => this.redis.hdel(this.consentKey(credentialId), clientId))) > 0;
  }

  private consentKey(credentialId: string): string {
    return oidcConsentKey(this.environment, credentialId);
  }

  private key(kind: string, secret: string): string {
    return `${this.prefix}:${kind}:${hashOf(secret)}`;
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw new TokenStoreUnavailable(err);
    }
  }
}
