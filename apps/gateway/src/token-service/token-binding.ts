import type { SenderConstraintStores } from '@idm/policies';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { certificateThumbprint, DPOP_ALGORITHMS, OAuthError, verifyDpopProof, type TokenConfirmation } from '@idm/tokens';

/** What a token request shows of the client's keys: its DPoP header and the TLS client certificate. */
export interface BindingEvidence {
  /** The `DPoP` header(s) as received. */
  dpop: string | string[] | undefined;
  method: string;
  /** The endpoint's URL as clients address it (issuer + path): what `htu` must name. */
  url: string;
  /** DER of the client certificate of the TLS connection, when it presented one. */
  certificate: Buffer | undefined;
  /** At a resource (`/userinfo`): the access token the proof must hash (`ath`, RFC 9449 §4.3). */
  accessToken?: string;
}

/** A proof at the token endpoint is made for this request: its iat may be this old. */
const PROOF_MAX_AGE_SECONDS = 60;
const CLOCK_SKEW_SECONDS = 10;

/**
 * Decides what the tokens issued on a request are bound to (RFC 9449 §5, RFC 8705 §3): the key
 * of a valid DPoP proof (`cnf.jkt`) and/or the client certificate of the TLS connection
 * (`cnf.x5t#S256`; the handshake proved possession of its key). A request with neither gets
 * bearer tokens. A proof that does not verify, was used before (on any Gateway) or lacks the
 * server nonce when nonces are required is refused, never silently ignored.
 */
export class TokenRequestBinding {
  constructor(
    private readonly stores: SenderConstraintStores | null,
    private readonly nonceRequired: boolean,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The DPoP-Nonce to send with every answer when nonces are required, else undefined. */
  nonce(): string | undefined {
    return this.nonceRequired && this.stores ? this.stores.nonces.current() : undefined;
  }

  async confirmationOf(evidence: BindingEvidence): Promise<TokenConfirmation | undefined> {
    const x5t = evidence.certificate === undefined ? undefined : certificateThumbprint(evidence.certificate);
    const jkt = evidence.dpop === undefined ? undefined : await this.provenKey(evidence);
    if (jkt === undefined && x5t === undefined) return undefined;
    return { ...(jkt !== undefined && { jkt }), ...(x5t !== undefined && { 'x5t#S256': x5t }) };
  }

  private async provenKey(evidence: BindingEvidence): Promise<string> {
    const header = evidence.dpop;
    if (typeof header !== 'string' || header.includes(',')) throw new OAuthError('invalid_dpop_proof', 'exactly one DPoP header is required');
    if (!this.stores) throw new OAuthError('server_error', 'DPoP proofs cannot be checked by this gateway', 503);
    const now = this.clock();
    const proof = verifyDpopProof(header, {
      method: evidence.method,
      url: evidence.url,
      ...(evidence.accessToken !== undefined && { accessToken: evidence.accessToken }),
      algorithms: DPOP_ALGORITHMS,
      maxAgeSeconds: PROOF_MAX_AGE_SECONDS,
      clockSkewSeconds: CLOCK_SKEW_SECONDS,
      now,
    });
    if (!proof.ok) throw new OAuthError('invalid_dpop_proof', `the DPoP proof is not valid (${proof.failure})`);
    if (this.nonceRequired && !this.stores.nonces.isValid(proof.nonce)) {
      throw new OAuthError('use_dpop_nonce', 'the DPoP proof must carry the server nonce', undefined, undefined, { 'dpop-nonce': this.stores.nonces.current() });
    }
    const keep = proof.iat + PROOF_MAX_AGE_SECONDS + 2 * CLOCK_SKEW_SECONDS - now / 1000;
    // Redis unavailable: TokenStoreUnavailable, answered 503.
    if (!(await this.stores.replay.firstUse(proof.jkt, proof.jti, keep))) throw new OAuthError('invalid_dpop_proof', 'the DPoP proof has been used before');
    return proof.jkt;
  }
}

/** True when a request's binding covers everything `bound` is bound to (a refreshed or regenerated token keeps its binding). */
export function provesBinding(bound: TokenConfirmation | undefined, proved: TokenConfirmation | undefined): boolean {
  if (bound === undefined) return true;
  return (bound.jkt === undefined || bound.jkt === proved?.jkt) && (bound['x5t#S256'] === undefined || bound['x5t#S256'] === proved?.['x5t#S256']);
}

/** RFC 9449 §5: `DPoP` for a token bound to a DPoP key; a certificate-bound token stays `Bearer` (RFC 8705 §3). */
export function tokenTypeOf(cnf: TokenConfirmation | undefined): 'DPoP' | 'Bearer' {
  return cnf?.jkt !== undefined ? 'DPoP' : 'Bearer';
}

/** DER of the client certificate on the HTTPS listener (the handshake proved its key); undefined on plain HTTP or without one. */
export function clientCertificateOf(req: IncomingMessage): Buffer | undefined {
  const socket = req.socket as TLSSocket;
  if (socket.encrypted !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const raw = socket.getPeerCertificate(false)?.raw;
  return Buffer.isBuffer(raw) && raw.length > 0 ? raw : undefined;
}
