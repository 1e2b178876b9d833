import type { Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { credentialRefusal, establish } from '../authentication/establish';
import { standardRejections } from '../authentication/standard-rejections';
import type { PolicyCompileDeps } from '../compile-dependencies';
import { versionsOf } from '../jose-keys/key-source';
import { PolicyConfigError } from '../policy-config.error';
import type { DirectoryCredential, Policy, PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import type { MtlsAuthConfig } from './schema';
import { chainsTo, parseCertificate, truststoreOf, type ParsedCertificate } from './truststore';

/** What one TLS connection presented, parsed once per connection (keep-alive requests reuse it). */
interface PeerCertificate {
  readonly raw: Buffer;
  /** CN values per field; more than one CN in a field makes the certificate ambiguous. */
  readonly subjectCn: readonly string[];
  readonly issuerCn: readonly string[];
  readonly leaf: ParsedCertificate;
  readonly intermediates: readonly ParsedCertificate[];
}

const peers = new WeakMap<Socket, PeerCertificate>();
const MAX_CHAIN = 8;
const MAX_CN_LENGTH = 256;

/**
 * Client-certificate authentication on the Gateway's HTTPS listener (which asks for a
 * certificate but lets every handshake through: this policy decides, per credential). The CN of
 * the certificate's subject and/or issuer is the credential's username in the proxy's project;
 * with `validateChain` the certificate must chain to that credential's truststore (PEM CAs set
 * on the Manager). The client proved possession of the private key in the handshake.
 */
export class MtlsAuthPolicy implements Policy {
  readonly type = 'mtls-auth';
  readonly authenticates = true;
  private readonly rejections;
  /** Same code as untrusted_client_certificate (the client cannot tell the difference), its own message for the operator. */
  private readonly unreadableTruststore: PolicyRejection;
  /** The project secret's CAs, parsed once per revision; null: each credential's own truststore. */
  private readonly sharedAnchors: readonly ParsedCertificate[] | null;

  constructor(
    private readonly config: MtlsAuthConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    const field = { 'subject-cn': "subject's CN", 'issuer-cn': "issuer's CN", either: "subject's or issuer's CN" }[config.match];
    this.rejections = standardRejections('ClientCertificate realm="identity-manager"', {
      tls_required: 'This API requires HTTPS with a client certificate',
      missing_client_certificate: 'A client certificate is required',
      malformed_client_certificate: `The client certificate cannot be read or has no single ${field}`,
      unknown_client_certificate: `No credential matches the client certificate's ${field}`,
      untrusted_client_certificate: "The client certificate does not chain to the credential's truststore or is outside its validity period",
    });
    this.unreadableTruststore = Object.freeze({
      ...this.rejections.untrusted_client_certificate,
      message: "The credential's truststore cannot be read; it accepts no certificate",
    });
    this.sharedAnchors = config.trustStoreSecretId === undefined ? null : trustStoreOf(config.trustStoreSecretId, deps);
  }

  execute(ctx: RequestContext): PolicyOutcome {
    const socket = ctx.socket as TLSSocket | null;
    if (socket === null || socket.encrypted !== true || typeof socket.getPeerCertificate !== 'function') return this.rejections.tls_required;
    const peer = peerCertificate(socket);
    if (peer === 'missing' || peer === 'malformed') return this.rejections[`${peer}_client_certificate`];
    const candidates = this.candidates(peer);
    if (candidates === null) return this.rejections.malformed_client_certificate;
    let credential: DirectoryCredential | undefined;
    for (const cn of candidates) {
      credential = this.deps.directory.findCredential(this.deps.proxy.projectId, cn);
      if (credential !== undefined) break;
    }
    if (credential === undefined) return this.rejections.unknown_client_certificate;
    const now = this.deps.now();
    if (this.config.validateChain) {
      const anchors = this.sharedAnchors ?? truststoreOf(credential);
      if (anchors === null) return this.unreadableTruststore;
      if (!chainsTo(peer.leaf, peer.intermediates, anchors, now)) return this.rejections.untrusted_client_certificate;
    }
    return credentialRefusal(credential, now, this.rejections) ?? establish(ctx, credential, null);
  }

  /** The CNs to look up, in order; null when a configured field has several CNs or none is usable. */
  private candidates(peer: PeerCertificate): string[] | null {
    const { match } = this.config;
    const fields = match === 'subject-cn' ? [peer.subjectCn] : match === 'issuer-cn' ? [peer.issuerCn] : [peer.subjectCn, peer.issuerCn];
    const out: string[] = [];
    for (const cns of fields) {
      if (cns.length > 1) return null;
      if (cns.length === 1) out.push(cns[0]);
    }
    return out.length === 0 ? null : out;
  }
}

/** A trust-store project secret's CA certificates (a secret that holds none makes the proxy fail closed). */
function trustStoreOf(secretId: string, deps: PolicyCompileDeps): ParsedCertificate[] {
  const anchors = versionsOf(secretId, deps).flatMap((v) => v.certificates.map((pem) => parseCertificate(pem)));
  if (anchors.length === 0) throw new PolicyConfigError([{ path: ['trustStoreSecretId'], message: `project secret ${secretId} holds no CA certificates` }]);
  return anchors;
}

/**
 * The certificate the client presented on this connection. Cached per socket, keyed by its DER
 * bytes so a different certificate (renegotiation) is never served from the cache.
 */
function peerCertificate(socket: TLSSocket): PeerCertificate | 'missing' | 'malformed' {
  let detailed: DetailedPeerCertificate;
  try {
    detailed = socket.getPeerCertificate(true);
  } catch {
    return 'malformed';
  }
  if (!detailed || Object.keys(detailed).length === 0) return 'missing';
  if (!Buffer.isBuffer(detailed.raw) || detailed.raw.length === 0) return 'malformed';
  const cached = peers.get(socket);
  if (cached !== undefined && cached.raw.equals(detailed.raw)) return cached;
  try {
    const leaf = parseCertificate(detailed.raw);
    const intermediates: ParsedCertificate[] = [];
    const seen: Buffer[] = [detailed.raw];
    // The chain the client sent (Node links it through issuerCertificate; a self-signed end points to itself).
    for (let c = detailed.issuerCertificate; c && Buffer.isBuffer(c.raw) && intermediates.length < MAX_CHAIN; c = c.issuerCertificate) {
      const raw = c.raw;
      if (seen.some((r) => r.equals(raw))) break;
      seen.push(raw);
      intermediates.push(parseCertificate(raw));
    }
    const subjectCn = commonNames(detailed.subject?.CN);
    const issuerCn = commonNames(detailed.issuer?.CN);
    if (subjectCn === null || issuerCn === null) return 'malformed';
    const peer: PeerCertificate = Object.freeze({ raw: detailed.raw, subjectCn, issuerCn, leaf, intermediates: Object.freeze(intermediates) });
    peers.set(socket, peer);
    return peer;
  } catch {
    return 'malformed';
  }
}

/** A CN field as a list; null when a value is empty, oversized or carries control characters. */
function commonNames(value: string | string[] | undefined): string[] | null {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  for (const cn of list) {
    if (typeof cn !== 'string' || cn === '' || cn.length > MAX_CN_LENGTH || /[\u0000-\u001f\u007f]/.test(cn)) return null;
  }
  return list;
}
