import { hashApiKey } from '@idm/domain';
import { credentialState } from '../credential-directory';
import { type Policy, type PolicyCompileDeps, type PolicyDefinition, type PolicyOutcome, type PolicyRejection, type RequestContext, challengeRejections } from '../policy';
import { apiKeyConfigSchema, type ApiKeyConfig } from './schema';
import { findQueryParam, withoutQueryParam } from './query-param';

/**
 * Authenticates by API key from a header or (when enabled) a query parameter. Keys are looked
 * up by their SHA-256 in the revision's directory; a key of another project is as unknown as a
 * key that does not exist. The map lookup is not constant-time, but what it compares is a
 * hash the caller cannot steer towards a stored one, so timing reveals nothing useful.
 */
export class ApiKeyPolicy implements Policy {
  readonly type = 'api-key';
  readonly authenticates = true;
  private readonly rejections: Record<'missing_credentials' | 'invalid_api_key' | 'credential_disabled' | 'credential_expired' | 'api_key_expired', PolicyRejection>;

  constructor(
    private readonly config: ApiKeyConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    const challenge = config.queryParam === null ? `ApiKey header="${config.header}"` : `ApiKey header="${config.header}", query="${config.queryParam}"`;
    const reject = challengeRejections(challenge);
    this.rejections = {
      missing_credentials: reject('missing_credentials', 'An API key is required'),
      invalid_api_key: reject('invalid_api_key', 'The API key is not valid'),
      credential_disabled: reject('credential_disabled', 'The credential of this API key is disabled'),
      credential_expired: reject('credential_expired', 'The credential of this API key has expired'),
      api_key_expired: reject('api_key_expired', 'The API key has expired'),
    };
  }

  execute(ctx: RequestContext): PolicyOutcome {
    const { header, queryParam } = this.config;
    let presented = firstValue(ctx.headers[header]);
    let fromQuery = false;
    if (!presented && queryParam !== null && ctx.query !== '') {
      presented = findQueryParam(ctx.query, queryParam);
      fromQuery = presented !== undefined;
    }
    if (!presented) return this.rejections.missing_credentials;

    const key = this.deps.directory.findApiKey(hashApiKey(presented));
    if (!key || key.credential.projectId !== this.deps.proxy.projectId) return this.rejections.invalid_api_key;
    const state = credentialState(key.credential, this.deps.now());
    if (state !== 'ok') return this.rejections[state];
    if (key.expiresAt !== null && key.expiresAt <= this.deps.now()) return this.rejections.api_key_expired;

    ctx.identity = { credentialId: key.credential.id, username: key.credential.username, projectId: key.credential.projectId };
    ctx.credential = key.credential;
    if (this.config.stripCredential) {
      if (fromQuery) ctx.query = withoutQueryParam(ctx.query, queryParam!);
      else ctx.strippedHeaders.push(header);
    }
    return undefined;
  }
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export const apiKeyPolicy: PolicyDefinition<typeof apiKeyConfigSchema> = {
  type: 'api-key',
  schema: apiKeyConfigSchema,
  compile: (config, deps) => new ApiKeyPolicy(config, deps),
};
