import { credentialRefusal, establish } from '../authentication/establish';
import { decodeBase64Text } from '../authentication/base64-text';
import { verifyPassword } from '../authentication/password';
import { presented } from '../authentication/presented';
import { standardRejections } from '../authentication/standard-rejections';
import type { PolicyCompileDeps } from '../compile-dependencies';
import type { DirectoryCredential, Policy, PolicyOutcome, RequestContext } from '../policy';
import type { Base64AuthConfig } from './schema';

const MAX_LENGTH = 4096;

/**
 * Plain-text credentials (Apinizer's catalogue): base64 of `username:password` (or of the bare
 * username when the password check is off) from a configurable header or query parameter. The
 * password is checked against the credential's argon2id hash, through the shared cache.
 */
export class Base64AuthPolicy implements Policy {
  readonly type = 'base64-auth';
  readonly authenticates = true;
  private readonly rejections;

  constructor(
    private readonly config: Base64AuthConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    this.rejections = standardRejections(`Basic realm="${config.realm}", charset="UTF-8"`, {
      missing_credentials: `Credentials are required in ${config.header}${config.queryParam ? ` or ?${config.queryParam}` : ''}`,
      malformed_credentials: 'The credentials are not valid base64 of username:password',
      invalid_credentials: 'The username or password is not valid',
    });
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const value = presented(ctx, this.config);
    if (!value) return this.rejections.missing_credentials;
    const credentials = decode(value, this.config.passwordCheck);
    if (credentials === null) return this.rejections.malformed_credentials;
    ctx.claimedUsername = credentials.username;
    if (!this.config.passwordCheck) return this.accept(ctx, this.deps.directory.findCredential(this.deps.proxy.projectId, credentials.username) ?? null);
    const verified = verifyPassword(this.deps, credentials.username, credentials.password);
    return verified instanceof Promise ? verified.then((credential) => this.accept(ctx, credential)) : this.accept(ctx, verified);
  }

  private accept(ctx: RequestContext, credential: DirectoryCredential | null): PolicyOutcome {
    if (credential === null) return this.rejections.invalid_credentials;
    return credentialRefusal(credential, this.deps.now(), this.rejections) ?? establish(ctx, credential, this.config.stripCredential ? this.config : null);
  }
}

/** base64 (optionally after "Basic ") -> username[:password]; null when unusable. */
function decode(raw: string, withPassword: boolean): { username: string; password: string } | null {
  if (raw.length > MAX_LENGTH) return null;
  let encoded = raw.trim();
  if (/^basic /i.test(encoded)) encoded = encoded.slice(6).trim();
  const decoded = decodeBase64Text(encoded);
  if (decoded === null || decoded.includes('\uFFFD') || /[\u0000-\u001f]/.test(decoded)) return null;
  const colon = decoded.indexOf(':');
  if (!withPassword) {
    const username = colon < 0 ? decoded : decoded.slice(0, colon);
    return username === '' ? null : { username, password: '' };
  }
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
