import type { TLSSocket } from 'node:tls';
import { certificateThumbprint, confirmationOf, DpopNonces, DpopReplayCache, TokenStoreUnavailable, verifyDpopProof, type TokenConfirmation } from '@idm/tokens';
import type { PolicyCompileDeps } from '../compile-dependencies';
import type { PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import type { RejectionCode } from '../rejection-reasons';
import type { PresentedAccessToken } from './presented-access-token';
import type { DpopSettings } from './schema';

/** Shared state of sender-constrained tokens: proof `jti`s seen by any Gateway, and the installation's nonce key. */
export interface SenderConstraintStores {
  replay: DpopReplayCache;
  nonces: DpopNonces;
}

type SenderRejection = Extract<
  RejectionCode,
  | 'dpop_proof_required'
  | 'invalid_dpop_proof'
  | 'dpop_key_mismatch'
  | 'dpop_proof_replayed'
  | 'use_dpop_nonce'
  | 'certificate_binding_mismatch'
  | 'replay_cache_unavailable'
  | 'invalid_token'
>;

/**
 * Enforces the binding of a sender-constrained access token at a resource (RFC 9449 §7,
 * RFC 8705 §3): whatever validated the token (our key ring, our token store, a third-party
 * issuer) hands its confirmation claim here with the request. A token bound to a DPoP key passes
 * only as `Authorization: DPoP` with one valid proof by that key, for this method and URL, fresh,
 * never seen before on any Gateway, hashing this token (`ath`) and carrying the server nonce when
 * the policy requires one; a token bound to a certificate passes only on a TLS connection that
 * presented that very certificate. A bearer token passes only as `Bearer`.
 */
export class SenderConstraint {
  private readonly rejections: Readonly<Record<SenderRejection, PolicyRejection>>;
  private readonly nonceChallenge: string;

  constructor(
    private readonly settings: DpopSettings,
    private readonly deps: Pick<PolicyCompileDeps, 'now' | 'issuers' | 'senderConstraint'> & { proxy: { basePath: string } },
  ) {
    const realm = deps.proxy.basePath;
    const algs = settings.algorithms.join(' ');
    const dpop = (error: string) => Object.freeze({ 'www-authenticate': `DPoP realm="${realm}", error="${error}", algs="${algs}"` });
    const reject = (code: SenderRejection, message: string, headers: Readonly<Record<string, string>>, status = 401): PolicyRejection =>
      Object.freeze({ status, code, message, headers });
    this.rejections = Object.freeze({
      dpop_proof_required: reject('dpop_proof_required', 'This token is DPoP-bound: present it as Authorization: DPoP with a DPoP proof', dpop('invalid_token')),
      invalid_dpop_proof: reject('invalid_dpop_proof', 'The DPoP proof is not valid for this request', dpop('invalid_dpop_proof')),
      dpop_key_mismatch: reject('dpop_key_mismatch', 'The DPoP proof is not signed by the key the token is bound to', dpop('invalid_dpop_proof')),
      dpop_proof_replayed: reject('dpop_proof_replayed', 'The DPoP proof has been used before', dpop('invalid_dpop_proof')),
      use_dpop_nonce: reject('use_dpop_nonce', 'The DPoP proof must carry the server nonce', dpop('use_dpop_nonce')),
      certificate_binding_mismatch: reject('certificate_binding_mismatch', 'This token is bound to a client certificate this connection did not present', {
        'www-authenticate': `Bearer realm="${realm}", error="invalid_token"`,
      }),
      invalid_token: reject('invalid_token', 'The token is not DPoP-bound: present it as Authorization: Bearer', dpop('invalid_token')),
      replay_cache_unavailable: reject('replay_cache_unavailable', 'DPoP proofs cannot be checked right now', {}, 503),
    });
    this.nonceChallenge = this.rejections.use_dpop_nonce.headers!['www-authenticate'] as string;
  }

  /**
   * The one check of a validated token's binding. `cnf` is the token's confirmation claim (JWT
   * `cnf`, an opaque token's record, an introspection answer), `presented` how it came. Undefined
   * when the request may go on; a rejection (possibly after the shared replay check) otherwise.
   */
  enforce(cnf: unknown, ctx: RequestContext, presented: PresentedAccessToken): PolicyOutcome | Promise<PolicyOutcome> {
    const confirmation = confirmationOf(cnf);
    if (confirmation === null) return presented.scheme === 'Bearer' ? undefined : this.rejections.invalid_token;
    if (confirmation === 'unreadable') return this.rejections.invalid_token;
    const x5t = confirmation['x5t#S256'];
    if (x5t !== undefined && x5t !== presentedCertificateThumbprint(ctx)) return this.rejections.certificate_binding_mismatch;
    if (confirmation.jkt === undefined) return presented.scheme === 'Bearer' ? undefined : this.rejections.invalid_token;
    return this.proofOf(confirmation, ctx, presented);
  }

  private proofOf(confirmation: TokenConfirmation, ctx: RequestContext, presented: PresentedAccessToken): PolicyOutcome | Promise<PolicyOutcome> {
    const header = ctx.headers.dpop;
    if (presented.scheme !== 'DPoP' || header === undefined) return this.rejections.dpop_proof_required;
    // RFC 9449 §4.3 step 1: exactly one DPoP header field.
    if (typeof header !== 'string' || header.includes(',')) return this.rejections.invalid_dpop_proof;
    const stores = this.deps.senderConstraint;
    if (!stores) return this.rejections.replay_cache_unavailable;
    const now = this.deps.now();
    const proof = verifyDpopProof(header, {
      method: ctx.method,
      url: requestUrl(ctx, this.deps.issuers),
      accessToken: presented.token,
      algorithms: this.settings.algorithms,
      maxAgeSeconds: this.settings.maxAgeSeconds,
      clockSkewSeconds: this.settings.clockSkewSeconds,
      now,
    });
    if (!proof.ok) return this.rejections.invalid_dpop_proof;
    if (proof.jkt !== confirmation.jkt) return this.rejections.dpop_key_mismatch;
    if (this.settings.requireNonce && !stores.nonces.isValid(proof.nonce)) return this.nonceRequired(stores.nonces);
    ctx.strippedHeaders.push('dpop');
    // Kept until the proof's iat leaves the acceptance window on every Gateway.
    const keep = proof.iat + this.settings.maxAgeSeconds + 2 * this.settings.clockSkewSeconds - now / 1000;
    return stores.replay.firstUse(proof.jkt, proof.jti, keep).then(
      (first) => (first ? undefined : this.rejections.dpop_proof_replayed),
      (err: unknown) => {
        if (err instanceof TokenStoreUnavailable) return this.rejections.replay_cache_unavailable;
        throw err;
      },
    );
  }

  /** Built per answer: the nonce changes with its time window. */
  private nonceRequired(nonces: DpopNonces): PolicyRejection {
    return { ...this.rejections.use_dpop_nonce, headers: { 'www-authenticate': this.nonceChallenge, 'dpop-nonce': nonces.current() } };
  }
}

/** Continues with `next` once the binding check let the request through (synchronously when it could decide so). */
export function afterSenderConstraint(outcome: PolicyOutcome | Promise<PolicyOutcome>, next: () => PolicyOutcome): PolicyOutcome | Promise<PolicyOutcome> {
  if (outcome === undefined) return next();
  return outcome instanceof Promise ? outcome.then((o) => o ?? next()) : outcome;
}

/**
 * The URL the client addressed, as `htu` must name it: the environment's public URL (or, without
 * one, the scheme and Host of this request, forwarded ones only from trusted hops) and the path.
 */
function requestUrl(ctx: RequestContext, issuers: PolicyCompileDeps['issuers']): string {
  const origin =
    issuers?.originOf?.(ctx) ??
    `${(ctx.socket as TLSSocket | null)?.encrypted === true ? 'https' : 'http'}://${typeof ctx.headers.host === 'string' ? ctx.headers.host : 'localhost'}`;
  return origin + ctx.path;
}

/** x5t#S256 of the client certificate of this TLS connection; undefined on plain HTTP or without one. */
function presentedCertificateThumbprint(ctx: RequestContext): string | undefined {
  const socket = ctx.socket as TLSSocket | null;
  if (socket === null || socket.encrypted !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const cached = thumbprints.get(socket);
  if (cached !== undefined) return cached;
  const raw = socket.getPeerCertificate(false)?.raw;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return undefined;
  // Renegotiation is disabled on the listener, so a connection keeps the certificate of its handshake.
  const thumbprint = certificateThumbprint(raw);
  thumbprints.set(socket, thumbprint);
  return thumbprint;
}

const thumbprints = new WeakMap<object, string>();
