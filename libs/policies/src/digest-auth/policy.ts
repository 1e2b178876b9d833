import { DIGEST_REALM } from '@idm/domain';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { establish } from '../authentication/establish';
import { AUTHORIZATION, presented } from '../authentication/presented';
import { CREDENTIAL_STATE_MESSAGES } from '../authentication/standard-rejections';
import type { PolicyCompileDeps } from '../compile-dependencies';
import { credentialState } from '../credential-directory';
import type { DirectoryCredential, Policy, PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import { PolicyConfigError } from '../policy-config.error';
import { parseDigestAuthorization, type DigestCredentials, type DigestParseFailure } from './digest-authorization';
import { digestHash, parseDigestHa1Record, type DigestHa1Record } from './digest-ha1';
import { DigestNonces } from './digest-nonce';
import type { DigestNonceStore } from './digest-nonce.store';
import type { DigestAlgorithm, DigestAuthConfig } from './schema';

type Reason =
  'missing_credentials' | 'invalid_credentials' | 'invalid_nonce' | 'nonce_expired' | 'nonce_replayed' | 'unsupported_algorithm' | 'credential_disabled' | 'credential_expired';

const PARSE_FAILURES: Record<DigestParseFailure, string> = {
  too_large: 'The Digest Authorization header is too large',
  syntax: 'The Digest Authorization header is not well-formed',
  duplicate_field: 'The Digest Authorization header repeats a field',
  missing_field: 'The Digest Authorization header lacks a required field (username, realm, nonce, uri, response, and nc/cnonce with qop)',
  unsupported_field: 'userhash and username* are not supported',
};

/**
 * RFC 7616 Digest authentication (qop=auth, SHA-256 or MD5) against the project's credentials.
 * The password never reaches the Gateway: the Manager seals HA1 values per algorithm for the
 * installation realm (DIGEST_REALM), this policy opens them with the master key on first use.
 * Nonces are stateless (signed issue time, see DigestNonces); the nonce count of each nonce
 * must increase, tracked in the shared store so a replay to another Gateway fails too. The
 * store is only asked after the response checked out, so strangers cannot burn counts.
 */
export class DigestAuthPolicy implements Policy {
  readonly type = 'digest-auth';
  readonly authenticates = true;
  private readonly nonces: DigestNonces;
  private readonly opaque: string;
  private readonly accepted: ReadonlySet<string>;
  /** Opened HA1 records of this revision, by credential id (null: none or unreadable). */
  private readonly ha1 = new Map<string, DigestHa1Record | null>();
  private readonly secrets: { open(sealed: string): string };
  private readonly nonceStore: DigestNonceStore;

  constructor(
    private readonly config: DigestAuthConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    if (!deps.secrets || !deps.digest) throw new PolicyConfigError([{ path: [], message: 'digest-auth needs the master key and a nonce store on this host' }]);
    this.secrets = deps.secrets;
    this.nonceStore = deps.digest.nonceStore;
    this.nonces = new DigestNonces(deps.digest.nonceKey, config.nonceLifetimeSeconds * 1000);
    this.opaque = this.nonces.opaqueFor(deps.proxy.id);
    this.accepted = new Set(config.algorithms);
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const header = presented(ctx, AUTHORIZATION);
    if (!header) return this.challenge('missing_credentials', 'Digest credentials are required');
    const credentials = parseDigestAuthorization(header);
    if (credentials === null) return this.challenge('missing_credentials', 'Digest credentials are required');
    if (typeof credentials === 'string') return malformed(PARSE_FAILURES[credentials]);
    if (credentials.qop !== 'auth') return malformed('qop must be "auth"');
    if (!this.accepted.has(credentials.algorithm)) return this.challenge('unsupported_algorithm', `Algorithm ${credentials.algorithm.slice(0, 32)} is not accepted here`);
    const algorithm = credentials.algorithm as DigestAlgorithm;
    if (credentials.realm !== DIGEST_REALM) return this.challenge('invalid_credentials', 'The realm does not match the challenge');
    if (credentials.opaque !== null && credentials.opaque !== this.opaque) return this.challenge('invalid_nonce', 'The opaque value does not match the challenge');
    const now = this.deps.now();
    const nonce = this.nonces.check(credentials.nonce, now);
    if (nonce.state === 'invalid') return this.challenge('invalid_nonce', 'The nonce was not issued by this gateway');
    // The digest-uri must name this very request, or a response captured elsewhere could be replayed here.
    const target = ctx.query === '' ? ctx.path : `${ctx.path}?${ctx.query}`;
    if (credentials.uri !== target) return malformed('The digest uri does not match the request target');

    ctx.claimedUsername = credentials.username;
    const credential = this.deps.directory.findCredential(this.deps.proxy.projectId, credentials.username);
    const record = credential ? this.ha1Of(credential) : null;
    // Unknown users cost the same hashing as known ones.
    const ha1 = record?.realm === DIGEST_REALM ? record[algorithm] : randomBytes(algorithm === 'MD5' ? 16 : 32).toString('hex');
    const expected = expectedResponse(algorithm, ha1, ctx.method, credentials);
    const matches = expected.length === credentials.response.length && timingSafeEqual(Buffer.from(expected), Buffer.from(credentials.response.toLowerCase()));
    if (!matches || !credential || record === null) return this.challenge('invalid_credentials', 'The username or password is not valid');
    // Only now, with proof of the password, is a stale nonce worth a "retry with a fresh one".
    if (nonce.state !== 'ok') return this.challenge('nonce_expired', 'The nonce has expired; retry with the new one', true);
    const state = credentialState(credential, now);
    if (state !== 'ok') return this.challenge(state, CREDENTIAL_STATE_MESSAGES[state]);
    return this.nonceStore.advance(credentials.nonce, parseInt(credentials.nc!, 16), nonce.remainingMs).then(
      (fresh) =>
        fresh
          ? establish(ctx, credential, this.config.stripAuthorization ? AUTHORIZATION : null)
          : this.challenge('nonce_replayed', 'The nonce count was already used; retry with the new nonce'),
      () => STORE_UNAVAILABLE,
    );
  }

  private ha1Of(credential: DirectoryCredential): DigestHa1Record | null {
    let record = this.ha1.get(credential.id);
    if (record === undefined) {
      record = null;
      if (credential.digestHa1 !== null) {
        try {
          record = parseDigestHa1Record(this.secrets.open(credential.digestHa1));
        } catch {
          record = null; // sealed under a key this Gateway does not hold: a failed login, never a 500
        }
      }
      this.ha1.set(credential.id, record);
    }
    return record;
  }

  /** A fresh nonce per challenge; one Digest challenge per accepted algorithm, preferred first. */
  private challenge(code: Reason, message: string, stale = false): PolicyRejection {
    const nonce = this.nonces.issue(this.deps.now());
    const challenges = this.config.algorithms.map(
      (algorithm) => `Digest realm="${DIGEST_REALM}", qop="auth", algorithm=${algorithm}, nonce="${nonce}", opaque="${this.opaque}"${stale ? ', stale=true' : ''}`,
    );
    return { status: 401, code, message, headers: { 'www-authenticate': challenges } };
  }
}

const STORE_UNAVAILABLE: PolicyRejection = Object.freeze({ status: 503, code: 'nonce_store_unavailable', message: 'Digest authentication is unavailable right now' });

function malformed(message: string): PolicyRejection {
  return { status: 400, code: 'malformed_credentials', message };
}

/** RFC 7616 3.4.1 with qop=auth: H(HA1:nonce:nc:cnonce:qop:H(method:uri)). */
function expectedResponse(algorithm: DigestAlgorithm, ha1: string, method: string, c: DigestCredentials): string {
  const ha2 = digestHash(algorithm, `${method}:${c.uri}`);
  return digestHash(algorithm, `${ha1}:${c.nonce}:${c.nc}:${c.cnonce}:${c.qop}:${ha2}`);
}
