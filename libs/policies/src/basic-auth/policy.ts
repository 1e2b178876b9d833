import { credentialState, type DirectoryCredential } from '../credential-directory';
import { type Policy, type PolicyCompileDeps, type PolicyDefinition, type PolicyOutcome, type PolicyRejection, type RequestContext, challengeRejections } from '../policy';
import { verifyPassword } from '../password-authentication';
import { parseBasicAuthorization } from './basic-credentials';
import { basicAuthConfigSchema, type BasicAuthConfig } from './schema';

type Reason = 'missing_credentials' | 'malformed_credentials' | 'invalid_credentials' | 'credential_disabled' | 'credential_expired';

/**
 * HTTP Basic authentication against the credentials of the proxy's project. The account state
 * (disabled, expired) is only revealed after the password checked out, so it tells nothing to
 * someone who does not know the password.
 */
export class BasicAuthPolicy implements Policy {
  readonly type = 'basic-auth';
  readonly authenticates = true;
  private readonly rejections: Record<Reason, PolicyRejection>;

  constructor(
    private readonly config: BasicAuthConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    const reject = challengeRejections(`Basic realm="${config.realm}", charset="UTF-8"`);
    this.rejections = {
      missing_credentials: reject('missing_credentials', 'Basic credentials are required'),
      malformed_credentials: reject('malformed_credentials', 'The Authorization header is not valid Basic credentials'),
      invalid_credentials: reject('invalid_credentials', 'The username or password is not valid'),
      credential_disabled: reject('credential_disabled', 'The credential is disabled'),
      credential_expired: reject('credential_expired', 'The credential has expired'),
    };
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const header = ctx.headers.authorization;
    if (typeof header !== 'string' || header === '') return this.rejections.missing_credentials;
    const presented = parseBasicAuthorization(header);
    if (presented === null) return this.rejections.missing_credentials;
    if (presented === 'malformed') return this.rejections.malformed_credentials;

    const verified = verifyPassword(this.deps, presented.username, presented.password);
    return verified instanceof Promise ? verified.then((credential) => this.accept(ctx, credential)) : this.accept(ctx, verified);
  }

  private accept(ctx: RequestContext, credential: DirectoryCredential | null): PolicyOutcome {
    if (credential === null) return this.rejections.invalid_credentials;
    const state = credentialState(credential, this.deps.now());
    if (state !== 'ok') return this.rejections[state];
    ctx.identity = { credentialId: credential.id, username: credential.username, projectId: credential.projectId };
    ctx.credential = credential;
    if (this.config.stripAuthorization) ctx.strippedHeaders.push('authorization');
    return undefined;
  }
}

export const basicAuthPolicy: PolicyDefinition<typeof basicAuthConfigSchema> = {
  type: 'basic-auth',
  schema: basicAuthConfigSchema,
  compile: (config, deps) => new BasicAuthPolicy(config, deps),
};
