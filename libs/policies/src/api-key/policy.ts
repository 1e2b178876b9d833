import { hashApiKey, visibleApiKeyPrefix } from '@idm/domain';
import { credentialRefusal, establish } from '../authentication/establish';
import { presented } from '../authentication/presented';
import { standardRejections } from '../authentication/standard-rejections';
import type { PolicyCompileDeps } from '../compile-dependencies';
import type { Policy, PolicyOutcome, RequestContext } from '../policy';
import type { ApiKeyConfig } from './schema';

/**
 * Authenticates by API key from a header or (when enabled) a query parameter. Keys are looked
 * up by their SHA-256 in the revision's directory; a key of another project is as unknown as a
 * key that does not exist. The map lookup is not constant-time, but what it compares is a
 * hash the caller cannot steer towards a stored one, so timing reveals nothing useful.
 */
export class ApiKeyPolicy implements Policy {
  readonly type = 'api-key';
  readonly authenticates = true;
  private readonly rejections;

  constructor(
    private readonly config: ApiKeyConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    const challenge = config.queryParam === null ? `ApiKey header="${config.header}"` : `ApiKey header="${config.header}", query="${config.queryParam}"`;
    this.rejections = standardRejections(challenge, {
      missing_credentials: 'An API key is required',
      invalid_api_key: 'The API key is not valid',
      credential_disabled: 'The credential of this API key is disabled',
      credential_expired: 'The credential of this API key has expired',
      api_key_expired: 'The API key has expired',
    });
  }

  execute(ctx: RequestContext): PolicyOutcome {
    const value = presented(ctx, this.config);
    if (!value) return this.rejections.missing_credentials;
    ctx.claimedKeyPrefix = visibleApiKeyPrefix(value);
    const key = this.deps.directory.findApiKey(hashApiKey(value));
    if (!key || key.credential.projectId !== this.deps.proxy.projectId) return this.rejections.invalid_api_key;
    const now = this.deps.now();
    const refused = credentialRefusal(key.credential, now, this.rejections);
    if (refused) return refused;
    if (key.expiresAt !== null && key.expiresAt <= now) return this.rejections.api_key_expired;
    return establish(ctx, key.credential, this.config.stripCredential ? this.config : null);
  }
}
