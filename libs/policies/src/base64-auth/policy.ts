import { findQueryParam, withoutQueryParam } from '../api-key/query-param';
import { credentialState, type DirectoryCredential } from '../credential-directory';
import { verifyPassword } from '../password-authentication';
import { type Policy, type PolicyCompileDeps, type PolicyDefinition, type PolicyOutcome, type PolicyRejection, type RequestContext, challengeRejections } from '../policy';
import { base64AuthConfigSchema, type Base64AuthConfig } from './schema';

type Reason = 'missing_credentials' | 'malformed_credentials' | 'invalid_credentials' | 'credential_disabled' | 'credential_expired';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const MAX_LENGTH = 4096;

/**
 * Plain-text credentials (Apinizer's catalogue): base64 of `username:password` (or of the bare
 * username when the password check is off) from a configurable header or query parameter. The
 * password is checked against the credential's argon2id hash, through the shared cache.
 */
export class Base64AuthPolicy implements Policy {
  readonly type = 'base64-auth';
  readonly authenticates = true;
  private readonly rejections: Record<Reason, PolicyRejection>;

  constructor(
    private readonly config: Base64AuthConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    const reject = challengeRejections(`Basic realm="${config.realm}", charset="UTF-8"`);
    this.rejections = {
      missing_credentials: reject('missing_credentials', `Credentials are required in ${config.header}${config.queryParam ? ` or ?${config.queryParam}` : ''}`),
      malformed_credentials: reject('malformed_credentials', 'The credentials are not valid base64 of username:password'),
      invalid_credentials: reject('invalid_credentials', 'The username or password is not valid'),
      credential_disabled: reject('credential_disabled', 'The credential is disabled'),
      credential_expired: reject('credential_expired', 'The credential has expired'),
    };
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const { header, queryParam } = this.config;
    let value = firstValue(ctx.headers[header]);
    let fromQuery = false;
    if (!value && queryParam !== null && ctx.query !== '') {
      value = findQueryParam(ctx.query, queryParam);
      fromQuery = value !== undefined;
    }
    if (!value) return this.rejections.missing_credentials;
    const presented = decode(value, this.config.passwordCheck);
    if (presented === null) return this.rejections.malformed_credentials;
    if (!this.config.passwordCheck) return this.accept(ctx, this.deps.directory.findCredential(this.deps.proxy.projectId, presented.username) ?? null, fromQuery);
    const verified = verifyPassword(this.deps, presented.username, presented.password);
    return verified instanceof Promise ? verified.then((credential) => this.accept(ctx, credential, fromQuery)) : this.accept(ctx, verified, fromQuery);
  }

  private accept(ctx: RequestContext, credential: DirectoryCredential | null, fromQuery: boolean): PolicyOutcome {
    if (credential === null) return this.rejections.invalid_credentials;
    const state = credentialState(credential, this.deps.now());
    if (state !== 'ok') return this.rejections[state];
    ctx.identity = { credentialId: credential.id, username: credential.username, projectId: credential.projectId };
    ctx.credential = credential;
    if (this.config.stripCredential) {
      if (fromQuery) ctx.query = withoutQueryParam(ctx.query, this.config.queryParam!);
      else ctx.strippedHeaders.push(this.config.header);
    }
    return undefined;
  }
}

/** base64 (optionally after "Basic ") -> username[:password]; null when unusable. */
function decode(raw: string, withPassword: boolean): { username: string; password: string } | null {
  if (raw.length > MAX_LENGTH) return null;
  let encoded = raw.trim();
  if (/^basic /i.test(encoded)) encoded = encoded.slice(6).trim();
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  if (decoded.includes('\uFFFD') || /[\u0000-\u001f]/.test(decoded)) return null;
  const colon = decoded.indexOf(':');
  if (!withPassword) {
    const username = colon < 0 ? decoded : decoded.slice(0, colon);
    return username === '' ? null : { username, password: '' };
  }
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export const base64AuthPolicy: PolicyDefinition<typeof base64AuthConfigSchema> = {
  type: 'base64-auth',
  schema: base64AuthConfigSchema,
  compile: (config, deps) => new Base64AuthPolicy(config, deps),
};
