import { CLIENT_AUTH_METHODS, tokenSettingsSchema, type TokenSettings } from '@idm/domain';
import { z } from 'zod';

/** An RFC 7591 §3.2.2 (or RFC 6750 §3.1) error: the HTTP status and the `error` code the client reads. */
export class RegistrationRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
  ) {
    super(description);
  }
}

const invalidMetadata = (description: string) => new RegistrationRefusal(400, 'invalid_client_metadata', description);

/** The grants a registered client may ask for: the code flow and its refresh tokens (client credentials for a confidential one). */
const REGISTRABLE_GRANTS = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
/** Scopes every OIDC client of the provider may request; others a client names become its own scopes. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
/** Fields the server assigns (RFC 7591 §3.2.1, RFC 7592 §2.2): a client never sets them. */
const SERVER_FIELDS = ['client_secret_expires_at', 'client_id_issued_at', 'registration_access_token', 'registration_client_uri'];

/**
 * A registrable redirect URI (RFC 7591 §2, RFC 8252 §7.3, RFC 9700 §2.1): absolute https with a
 * host, or http on a loopback address only; no fragment, no user info, nothing that could be read
 * two ways. Stricter than what an operator may register: private-use schemes need an operator.
 */
export function registrableRedirectUri(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 2048 || value.includes('#') || /[\s<>"\\]/.test(value)) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:') return url.hostname !== '';
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

const stringList = (name: string, value: unknown, max: number): string[] => {
  if (!Array.isArray(value) || value.length > max || value.some((v) => typeof v !== 'string')) throw invalidMetadata(`${name} must be an array of at most ${max} strings`);
  return value as string[];
};

const optionalText = (name: string, value: unknown, max: number): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalidMetadata(`${name} must be a string of 1 to ${max} characters`);
  return value;
};

const httpsUrl = (name: string, value: unknown): string | undefined => {
  const text = optionalText(name, value, 2048);
  if (text !== undefined && !registrableRedirectUri(text)) throw invalidMetadata(`${name} must be an https URL`);
  return text;
};

/** What a registration is made of: the client's token settings, the metadata echoed back (RFC 7591 §3.2.1), and its display name. */
export interface RegisteredClient {
  settings: TokenSettings;
  metadata: Record<string, unknown>;
  clientName: string | null;
  /** Whether the client authenticates with a client secret (one is issued). */
  usesSecret: boolean;
}

/**
 * Reads RFC 7591 §2 client metadata into the token settings of an OIDC client of this provider,
 * refusing what it does not implement rather than registering a client that would fail later:
 * only `code` with the `authorization_code` grant (implicit and hybrid are refused at /authorize
 * anyway), the token endpoint authentication methods the token endpoint knows, keys only for
 * `private_key_jwt`. Unknown members are ignored (RFC 7591 §2); a software statement is refused
 * (none is trusted). A registered client always asks the user's consent: it is a third party.
 */
export function readClientMetadata(input: Record<string, unknown>): RegisteredClient {
  if (input.software_statement !== undefined) throw new RegistrationRefusal(400, 'invalid_software_statement', 'software statements are not supported by this provider');
  for (const field of SERVER_FIELDS) if (input[field] !== undefined) throw invalidMetadata(`${field} is assigned by the server`);

  if (input.redirect_uris === undefined) throw new RegistrationRefusal(400, 'invalid_redirect_uri', 'redirect_uris is required');
  const redirectUris = stringList('redirect_uris', input.redirect_uris, 20);
  if (redirectUris.length === 0) throw new RegistrationRefusal(400, 'invalid_redirect_uri', 'redirect_uris must name at least one URI');
  const badRedirect = redirectUris.find((u) => !registrableRedirectUri(u));
  if (badRedirect !== undefined)
    throw new RegistrationRefusal(400, 'invalid_redirect_uri', 'every redirect URI must be an absolute https URL (http only on a loopback address) without fragment or user info');
  const postLogout = input.post_logout_redirect_uris === undefined ? [] : stringList('post_logout_redirect_uris', input.post_logout_redirect_uris, 20);
  if (postLogout.some((u) => !registrableRedirectUri(u)))
    throw new RegistrationRefusal(400, 'invalid_redirect_uri', 'every post-logout redirect URI must be an absolute https URL (http only on a loopback address)');

  const method = input.token_endpoint_auth_method ?? 'client_secret_basic';
  if (typeof method !== 'string' || !(CLIENT_AUTH_METHODS as readonly string[]).includes(method))
    throw invalidMetadata(`token_endpoint_auth_method must be one of ${CLIENT_AUTH_METHODS.join(', ')}`);
  const authMethod = method as (typeof CLIENT_AUTH_METHODS)[number];

  const grants = input.grant_types === undefined ? ['authorization_code'] : stringList('grant_types', input.grant_types, 5);
  const unknownGrant = grants.find((g) => !(REGISTRABLE_GRANTS as readonly string[]).includes(g));
  if (unknownGrant !== undefined) throw invalidMetadata(`grant_types: ${unknownGrant} cannot be registered (only ${REGISTRABLE_GRANTS.join(', ')})`);
  if (!grants.includes('authorization_code')) throw invalidMetadata('grant_types must include authorization_code (a registered client is an OpenID Connect client)');
  if (authMethod === 'none' && grants.includes('client_credentials')) throw invalidMetadata('a public client (token_endpoint_auth_method none) cannot use client_credentials');
  const responseTypes = input.response_types === undefined ? ['code'] : stringList('response_types', input.response_types, 5);
  // RFC 7591 §2.1: response_types and grant_types must agree; only `code` is served.
  if (responseTypes.length !== 1 || responseTypes[0] !== 'code') throw invalidMetadata('response_types must be ["code"] (implicit and hybrid flows are not offered)');

  const hasJwks = input.jwks !== undefined;
  const hasJwksUri = input.jwks_uri !== undefined;
  if (hasJwks && hasJwksUri) throw invalidMetadata('jwks and jwks_uri must not both be present (RFC 7591 §2)');
  if ((hasJwks || hasJwksUri) !== (authMethod === 'private_key_jwt')) throw invalidMetadata('jwks or jwks_uri is required with private_key_jwt, and taken with no other method');
  if (hasJwksUri && typeof input.jwks_uri !== 'string') throw invalidMetadata('jwks_uri must be a string');

  let extraScopes: string[] = [];
  if (input.scope !== undefined) {
    if (typeof input.scope !== 'string' || input.scope.length > 2000) throw invalidMetadata('scope must be a space-separated string');
    extraScopes = [...new Set(input.scope.split(' ').filter((s) => s !== '' && !OIDC_SCOPES.has(s)))];
  }
  const clientName = optionalText('client_name', input.client_name, 200) ?? null;
  const clientUri = httpsUrl('client_uri', input.client_uri);
  const logoUri = httpsUrl('logo_uri', input.logo_uri);
  const policyUri = httpsUrl('policy_uri', input.policy_uri);
  const tosUri = httpsUrl('tos_uri', input.tos_uri);
  const contacts = input.contacts === undefined ? undefined : stringList('contacts', input.contacts, 10);
  if (contacts?.some((c) => c.length > 254)) throw invalidMetadata('contacts must be at most 254 characters each');
  const requirePar = input.require_pushed_authorization_requests ?? false;
  if (typeof requirePar !== 'boolean') throw invalidMetadata('require_pushed_authorization_requests must be a boolean');

  const parsed = tokenSettingsSchema.safeParse({
    grants,
    refreshAllowed: grants.includes('refresh_token'),
    scopes: extraScopes,
    oidc: {
      clientType: authMethod === 'none' ? 'public' : 'confidential',
      redirectUris,
      postLogoutRedirectUris: postLogout,
      tokenEndpointAuthMethod: authMethod,
      jwks: hasJwks ? input.jwks : null,
      jwksUri: hasJwksUri ? input.jwks_uri : null,
      requirePkce: true,
      consentRequired: true,
      requirePar,
    },
  });
  if (!parsed.success) throw invalidMetadata(describe(parsed.error));
  const settings = parsed.data;
  const metadata: Record<string, unknown> = {
    redirect_uris: redirectUris,
    token_endpoint_auth_method: authMethod,
    grant_types: grants,
    response_types: responseTypes,
    scope: ['openid', 'profile', 'email', ...(grants.includes('refresh_token') ? ['offline_access'] : []), ...extraScopes].join(' '),
    ...(postLogout.length > 0 && { post_logout_redirect_uris: postLogout }),
    ...(clientName !== null && { client_name: clientName }),
    ...(clientUri !== undefined && { client_uri: clientUri }),
    ...(logoUri !== undefined && { logo_uri: logoUri }),
    ...(policyUri !== undefined && { policy_uri: policyUri }),
    ...(tosUri !== undefined && { tos_uri: tosUri }),
    ...(contacts !== undefined && { contacts }),
    ...(hasJwks && { jwks: settings.oidc!.jwks }),
    ...(hasJwksUri && { jwks_uri: settings.oidc!.jwksUri }),
    ...(requirePar && { require_pushed_authorization_requests: true }),
  };
  return { settings, metadata, clientName, usesSecret: authMethod === 'client_secret_basic' || authMethod === 'client_secret_post' };
}

/** The first schema complaint, with its path in the client's terms where one maps. */
function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path
    .join('.')
    .replace(/^oidc\.jwksUri/, 'jwks_uri')
    .replace(/^oidc\.jwks/, 'jwks');
  return path ? `${path}: ${issue.message}` : issue.message;
}
