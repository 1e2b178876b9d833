import { randomUUID } from 'node:crypto';
import { CompactEncrypt, CompactSign, type CompactJWEHeaderParameters, type CompactJWSHeaderParameters } from 'jose';
import type { PolicyCompileDeps } from '../compile-dependencies';
import { encryptionKeyOf, signingKeyOf, type EncryptionKey, type JoseKey } from '../jose-keys/key-source';
import { joseRejection, rejectionOfJoseFailure } from '../jose-keys/jose-rejections';
import { compileTemplate, readRequestPayload, setVariable, writeRequestPayload, type CompiledTemplate } from '../jose-keys/request-values';
import type { Policy, PolicyOutcome, PolicyRejection, PolicyResponse, RequestContext } from '../policy';
import type { JoseImplementationConfig } from './schema';

interface Signer {
  key: JoseKey;
  header: CompactJWSHeaderParameters;
}

/** The claims of a JWT this policy issues, compiled once: templates resolved per request. */
interface ClaimsPlan {
  issuer: CompiledTemplate | null;
  audiences: CompiledTemplate[];
  subject: CompiledTemplate | null;
  jti: boolean;
  issuedAtOffset: number;
  expiresIn: number | null;
  expiresFromNow: boolean;
  custom: [string, CompiledTemplate][];
}

/**
 * Signs and/or encrypts with `jose` (CompactSign, CompactEncrypt). Keys are opened when the proxy
 * compiles; a missing or unusable key makes the proxy unavailable (fail closed), never a request
 * that goes out unprotected.
 */
export class JoseImplementationPolicy implements Policy {
  readonly type = 'jose-implementation';
  readonly readsRequestBody: boolean;
  readonly upstreamHeaderNames: readonly string[];
  readonly onResponse?: Policy['onResponse'];
  private readonly signer: Signer | null;
  private readonly signersByIssuer: Map<string, Signer> | null;
  private readonly encryptionKey: EncryptionKey | null;
  private readonly claims: ClaimsPlan | null;

  constructor(
    private readonly config: JoseImplementationConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    const sign = config.sign;
    const signerOf = (key: NonNullable<typeof sign>['key'] & object): Signer => {
      const k = signingKeyOf(key, deps);
      return { key: k.key, header: { alg: sign!.alg, kid: k.kid, typ: sign!.typ, ...(sign!.includeX5tS256 && k.x5tS256 ? { 'x5t#S256': k.x5tS256 } : {}) } };
    };
    this.signer = sign?.key ? signerOf(sign.key) : null;
    this.signersByIssuer = sign?.byIssuer ? new Map(Object.entries(sign.byIssuer).map(([iss, key]) => [iss, signerOf(key)])) : null;
    this.encryptionKey = config.encrypt ? encryptionKeyOf(config.encrypt.key, config.encrypt.alg, deps) : null;
    this.claims = config.claims ? compileClaims(config.claims) : null;
    this.readsRequestBody = config.phase === 'request' && (config.payload.from === 'body' || config.output.to === 'body');
    this.upstreamHeaderNames = config.phase === 'request' && config.output.to === 'header' ? [config.output.name] : [];
    if (config.phase === 'response') this.onResponse = (ctx, response) => this.protectAnswer(ctx, response);
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    if (this.config.phase !== 'request') return undefined;
    const source = this.config.payload;
    const payload = source.from === 'claims' ? Buffer.from('{}') : readRequestPayload(ctx, source);
    return this.protect(ctx, payload).then((result) => {
      if (typeof result !== 'string') return result;
      writeRequestPayload(ctx, this.config.output, result);
      return undefined;
    });
  }

  private async protectAnswer(ctx: RequestContext, response: PolicyResponse): Promise<PolicyOutcome> {
    const source = this.config.payload;
    let payload: Buffer | null;
    if (source.from === 'claims') payload = Buffer.from('{}');
    else if (source.from === 'body') payload = response.body;
    else if (source.from === 'variable') payload = ctx.variables?.[source.name] === undefined ? null : Buffer.from(ctx.variables[source.name]);
    else {
      const raw = response.headers[source.name];
      payload = raw === undefined ? null : Buffer.from(Array.isArray(raw) ? raw[0] : raw);
    }
    const result = await this.protect(ctx, payload);
    if (typeof result !== 'string') return joseRejection('jose_response_rejected', `the upstream's answer cannot be protected: ${result.code}`);
    const target = this.config.output;
    if (target.to === 'body') {
      response.body = Buffer.from(result);
      response.headers['content-type'] = target.contentType;
    } else if (target.to === 'header') response.headers[target.name] = target.scheme ? `${target.scheme} ${result}` : result;
    else setVariable(ctx, target.name, result);
    return undefined;
  }

  /** The compact JWS, JWE or JWE-wrapped JWS of the payload; a rejection when it cannot be made. */
  private async protect(ctx: RequestContext, payload: Buffer | null): Promise<string | PolicyRejection> {
    if (payload === null || payload.length === 0) return joseRejection('jose_payload_missing');
    if (payload.length > this.config.maxPayloadBytes) return joseRejection('jose_payload_too_large', `the payload exceeds ${this.config.maxPayloadBytes} bytes`);
    let content: Uint8Array = payload;
    let issuer: string | undefined;
    if (this.claims !== null) {
      const claims = withClaims(payload, this.claims, ctx, this.deps.now());
      if (claims === null) return joseRejection('jose_payload_invalid', 'the payload is not a JSON object');
      issuer = typeof claims.iss === 'string' ? claims.iss : undefined;
      content = Buffer.from(JSON.stringify(claims));
    }
    try {
      if (this.config.sign) {
        const signer = this.signersByIssuer === null ? this.signer! : this.signersByIssuer.get(issuer ?? '');
        if (!signer) return joseRejection('jose_issuer_unknown', `no signing key for issuer '${issuer ?? ''}'`);
        const jws = await new CompactSign(content).setProtectedHeader(signer.header).sign(signer.key);
        if (!this.encryptionKey) return jws;
        content = Buffer.from(jws);
      }
      const { key, kid } = await this.encryptionKey!();
      const header: CompactJWEHeaderParameters = { alg: this.config.encrypt!.alg, enc: this.config.encrypt!.enc, kid, cty: this.config.sign ? 'JWT' : undefined };
      return await new CompactEncrypt(content).setProtectedHeader(header).encrypt(key);
    } catch (err) {
      return rejectionOfJoseFailure(err);
    }
  }
}

function compileClaims(c: NonNullable<JoseImplementationConfig['claims']>): ClaimsPlan {
  return {
    issuer: c.issuer === undefined ? null : compileTemplate(c.issuer),
    audiences: c.audiences.map(compileTemplate),
    subject: c.subject === undefined ? null : compileTemplate(c.subject),
    jti: c.jti,
    issuedAtOffset: c.issuedAtOffsetSeconds,
    expiresIn: c.expiresInSeconds ?? null,
    expiresFromNow: c.expiresFrom === 'now',
    custom: Object.entries(c.custom).map(([name, t]) => [name, compileTemplate(t)]),
  };
}

/** The payload's JSON object with the planned claims set over it; null when it is not an object. */
function withClaims(payload: Buffer, plan: ClaimsPlan, ctx: RequestContext, nowMs: number): Record<string, unknown> | null {
  let claims: unknown;
  try {
    claims = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) return null;
  const out = claims as Record<string, unknown>;
  const now = Math.floor(nowMs / 1000);
  const iat = now + plan.issuedAtOffset;
  for (const [name, template] of plan.custom) out[name] = template(ctx);
  if (plan.issuer) out.iss = plan.issuer(ctx);
  if (plan.subject) out.sub = plan.subject(ctx);
  if (plan.audiences.length === 1) out.aud = plan.audiences[0](ctx);
  else if (plan.audiences.length > 1) out.aud = plan.audiences.map((a) => a(ctx));
  if (plan.jti) out.jti = randomUUID();
  out.iat = iat;
  if (plan.expiresIn !== null) out.exp = (plan.expiresFromNow ? now : iat) + plan.expiresIn;
  return out;
}
