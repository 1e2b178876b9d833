import { credentialRefusal, establish } from '../authentication/establish';
import { verifyPassword } from '../authentication/password';
import { AUTHORIZATION, presented } from '../authentication/presented';
import { standardRejections } from '../authentication/standard-rejections';
import type { PolicyCompileDeps } from '../compile-dependencies';
import type { DirectoryCredential, Policy, PolicyOutcome, RequestContext } from '../policy';
import { parseBasicAuthorization } from './basic-credentials';
import type { BasicAuthConfig } from './schema';
import { FederatedPasswords } from '../identity-sources/federated-passwords';

/**
 * HTTP Basic authentication against the credentials of the proxy's project. The account state
 * (disabled, expired) is only revealed after the password checked out, so it tells nothing to
 * someone who does not know the password.
 */
export class BasicAuthPolicy implements Policy {
  readonly type = 'basic-auth';
  readonly authenticates = true;
  private readonly rejections;
  private readonly federated: FederatedPasswords | null;

  constructor(
    private readonly config: BasicAuthConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    this.rejections = standardRejections(`Basic realm="${config.realm}", charset="UTF-8"`, {
      missing_credentials: 'Basic credentials are required',
      malformed_credentials: 'The Authorization header is not valid Basic credentials',
      invalid_credentials: 'The username or password is not valid',
    });
    this.federated = config.identitySources.length > 0 ? new FederatedPasswords(config.identitySources, deps, ['identitySources']) : null;
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const header = presented(ctx, AUTHORIZATION);
    if (!header) return this.rejections.missing_credentials;
    const credentials = parseBasicAuthorization(header);
    if (credentials === null) return this.rejections.missing_credentials;
    if (credentials === 'malformed') return this.rejections.malformed_credentials;
    ctx.claimedUsername = credentials.username;
    // A username the project has a credential for is decided by that credential alone, so a directory user never shadows it.
    if (this.federated !== null && !this.deps.directory.findCredential(this.deps.proxy.projectId, credentials.username)?.passwordHash)
      return this.federatedLogin(ctx, credentials.username, credentials.password);
    const verified = verifyPassword(this.deps, credentials.username, credentials.password);
    return verified instanceof Promise ? verified.then((credential) => this.accept(ctx, credential)) : this.accept(ctx, verified);
  }

  private async federatedLogin(ctx: RequestContext, username: string, password: string): Promise<PolicyOutcome> {
    const outcome = await this.federated!.authenticate(ctx, username, password, this.config.stripAuthorization ? AUTHORIZATION : null);
    return outcome === 'rejected' ? this.rejections.invalid_credentials : outcome;
  }

  private accept(ctx: RequestContext, credential: DirectoryCredential | null): PolicyOutcome {
    if (credential === null) return this.rejections.invalid_credentials;
    return credentialRefusal(credential, this.deps.now(), this.rejections) ?? establish(ctx, credential, this.config.stripAuthorization ? AUTHORIZATION : null);
  }
}
