import { compactDecrypt, compactVerify, decodeProtectedHeader, jwtDecrypt, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { PolicyCompileDeps } from '../compile-dependencies';
import type { Policy, PolicyOutcome, PolicyRejection, PolicyResponse, RequestContext } from '../policy';
import { decryptionKeysOf, verificationKeysOf, type DecryptionKeys, type JoseKey, type VerificationKeys } from '../jose-keys/key-source';
import { joseRejection, rejectionOfJoseFailure } from '../jose-keys/jose-rejections';
import { readRequestPayload, setVariable } from '../jose-keys/request-values';
import type { JoseValidationConfig } from './schema';

const COMPACT = /^[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){2,4}$/;

/** What passed: the payload and, for a JWT, its claims. */
interface Validated {
  payload: Uint8Array;
  claims: JWTPayload | null;
}

/**
 * Verifies and/or decrypts a compact JWS/JWE with `jose`, checks the JWT claims jose checks
 * (exp, nbf, iat age, iss, aud, required claims), then projects claims into upstream headers and
 * variables. Each key that may apply (kid / x5t match, rotated versions within their overlap) is
 * tried; a failure is a reason code from jose's error code, never its message.
 */
export class JoseValidationPolicy implements Policy {
  readonly type = 'jose-validation';
  readonly readsRequestBody: boolean;
  readonly upstreamHeaderNames: readonly string[];
  readonly onResponse?: Policy['onResponse'];
  private readonly verifyKeys: VerificationKeys | null;
  private readonly decryptKeys: DecryptionKeys | null;
  private readonly claimRules: Omit<JWTVerifyOptions, 'currentDate'>;
  private readonly headerProjections: [string, string][];
  private readonly variableProjections: [string, string][];

  constructor(
    private readonly config: JoseValidationConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    this.verifyKeys = config.verify ? verificationKeysOf(config.verify.key, deps) : null;
    this.decryptKeys = config.decrypt ? decryptionKeysOf(config.decrypt.key, deps) : null;
    this.readsRequestBody = config.phase === 'request' && (config.token.from === 'body' || config.replaceBodyWithPayload);
    this.upstreamHeaderNames = Object.values(config.claimHeaders);
    this.headerProjections = Object.entries(config.claimHeaders);
    this.variableProjections = Object.entries(config.claimVariables);
    this.claimRules = {
      issuer: config.issuers.length ? config.issuers : undefined,
      audience: config.audiences.length ? config.audiences : undefined,
      requiredClaims: config.requiredClaims,
      maxTokenAge: config.maxAgeSeconds,
      clockTolerance: config.clockSkewSeconds,
    };
    if (config.phase === 'response') this.onResponse = (ctx, response) => this.onUpstreamAnswer(ctx, response);
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    if (this.config.phase !== 'request') return undefined;
    const token = readRequestPayload(ctx, this.config.token);
    if (token === null || token.length === 0) return joseRejection('jose_token_missing');
    return this.validate(token).then((result) => {
      if (!('payload' in result)) return result;
      if (this.config.token.from === 'header' && this.config.stripToken) ctx.strippedHeaders.push(this.config.token.name);
      if (this.config.replaceBodyWithPayload) {
        ctx.body = Buffer.from(result.payload);
        ctx.bodyContentType = this.config.jwt ? 'application/json' : null;
      }
      this.project(ctx, result.claims);
      return undefined;
    });
  }

  private async onUpstreamAnswer(ctx: RequestContext, response: PolicyResponse): Promise<PolicyOutcome> {
    const source = this.config.token;
    const raw = source.from === 'body' ? response.body : source.from === 'header' ? response.headers[source.name] : ctx.variables?.[source.name];
    const token = raw === undefined ? null : Buffer.isBuffer(raw) ? raw : Buffer.from(Array.isArray(raw) ? raw[0] : raw, 'utf8');
    if (token === null || token.length === 0) return upstreamRefused(joseRejection('jose_token_missing'));
    const result = await this.validate(token);
    if (!('payload' in result)) return upstreamRefused(result);
    if (this.config.replaceBodyWithPayload) {
      response.body = Buffer.from(result.payload);
      response.headers['content-type'] = this.config.jwt ? 'application/json' : 'application/octet-stream';
    }
    this.project(ctx, result.claims);
    return undefined;
  }

  private async validate(raw: Buffer): Promise<Validated | PolicyRejection> {
    if (raw.length > this.config.maxTokenBytes) return joseRejection('jose_token_invalid', `the token exceeds ${this.config.maxTokenBytes} bytes`);
    const token = raw.toString('latin1').trim();
    if (!COMPACT.test(token)) return joseRejection('jose_token_invalid', 'not a compact JWS or JWE');
    try {
      const parts = token.split('.').length;
      if (this.decryptKeys !== null && parts !== 5) return joseRejection('jose_token_invalid', 'a JWE is required');
      if (this.decryptKeys === null && parts !== 3) return joseRejection('jose_token_invalid', 'a JWS is required');
      if (this.decryptKeys !== null && this.verifyKeys === null) return await this.decryptOnly(token);
      const jws = this.decryptKeys !== null ? new TextDecoder().decode((await this.decrypt(token)).plaintext) : token;
      return await this.verify(jws);
    } catch (err) {
      return rejectionOfJoseFailure(err);
    }
  }

  private async decryptOnly(token: string): Promise<Validated> {
    if (!this.config.jwt) return { payload: (await this.decrypt(token)).plaintext, claims: null };
    const { payload } = await this.withEachKey(this.decryptKeys!(decodeProtectedHeader(token) as never), (key) =>
      jwtDecrypt(token, key, { ...this.claimRules, currentDate: new Date(this.deps.now()), ...this.decryptAlgorithms() }),
    );
    return { payload: new TextEncoder().encode(JSON.stringify(payload)), claims: payload };
  }

  private decrypt(token: string) {
    return this.withEachKey(this.decryptKeys!(decodeProtectedHeader(token) as never), (key) => compactDecrypt(token, key, this.decryptAlgorithms()));
  }

  private decryptAlgorithms() {
    return { keyManagementAlgorithms: this.config.decrypt!.keyManagementAlgorithms, contentEncryptionAlgorithms: this.config.decrypt!.contentEncryptionAlgorithms };
  }

  private async verify(jws: string): Promise<Validated> {
    if (!COMPACT.test(jws) || jws.split('.').length !== 3) throw Object.assign(new Error('the JWE does not hold a JWS'), { code: 'ERR_JWS_INVALID' });
    const header = decodeProtectedHeader(jws);
    const algorithms = this.config.verify!.algorithms;
    // Checked before any key is chosen: a token cannot pick its own algorithm.
    if (typeof header.alg !== 'string' || !(algorithms as readonly string[]).includes(header.alg))
      throw Object.assign(new Error('alg not allowed'), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    const keys = await this.verifyKeys!(header as never);
    if (!this.config.jwt) {
      const { payload } = await this.withEachKey(keys, (key) => compactVerify(jws, key, { algorithms }));
      return { payload, claims: null };
    }
    const { payload } = await this.withEachKey(keys, (key) => jwtVerify(jws, key, { ...this.claimRules, currentDate: new Date(this.deps.now()), algorithms }));
    return { payload: new TextEncoder().encode(JSON.stringify(payload)), claims: payload };
  }

  /** Tries each candidate key; the first that works wins, else the last failure (a signature or decryption failure). */
  private async withEachKey<T>(keys: JoseKey[], use: (key: JoseKey) => Promise<T>): Promise<T> {
    if (keys.length === 0) throw Object.assign(new Error('no key matches'), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    let failure: unknown;
    for (const key of keys) {
      try {
        return await use(key);
      } catch (err) {
        const code = (err as { code?: string }).code;
        // Claim failures are about the token, not the key: trying another key cannot fix them.
        if (code === 'ERR_JWT_EXPIRED' || code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' || code === 'ERR_JOSE_ALG_NOT_ALLOWED') throw err;
        failure = err;
      }
    }
    throw failure;
  }

  private project(ctx: RequestContext, claims: JWTPayload | null): void {
    if (claims === null) return;
    for (const [claim, header] of this.headerProjections) {
      const value = claimText(claims[claim]);
      if (value !== null) ctx.upstreamHeaders[header] = value;
    }
    for (const [claim, variable] of this.variableProjections) {
      const value = claimText(claims[claim]);
      if (value !== null) setVariable(ctx, variable, value);
    }
  }
}

function claimText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.map((v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A response-phase refusal: the client gets a 502 naming the reason, never the upstream's answer. */
function upstreamRefused(rejection: PolicyRejection): PolicyRejection {
  return joseRejection('jose_response_rejected', `the upstream's answer failed JOSE validation: ${rejection.code}`);
}
