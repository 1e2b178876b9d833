import type { KeyManager, KeyManagerTiming, KeyManagerTokenTypes } from '../../api/types';

/** Where a key manager's endpoints come from: its discovery document, or named one by one. */
export type EndpointSource = 'discovery' | 'explicit';

/** What the form edits; secrets are write-only (empty: keep what is stored). */
export interface KeyManagerDraft {
  name: string;
  description: string;
  scope: string; // 'system' or a project id
  type: 'builtin' | 'external';
  issuer: string;
  source: EndpointSource;
  discoveryUrl: string;
  jwksUri: string;
  introspectionEndpoint: string;
  clientId: string;
  clientSecret: string;
  /** A project shared-secret the client secret comes from ('' : none, the sealed one if any). */
  clientSecretId: string;
  sharedSecret: string;
  /** A project shared-secret HS* tokens are verified with ('' : none, the sealed one if any). */
  sharedSecretId: string;
  algorithms: string[];
  audiences: string[];
  clockSkewSeconds: number | string;
  requiredClaims: string[];
  userIdClaim: string;
  usernameClaim: string;
  rolesClaim: string;
  scopesClaim: string;
  tenantClaim: string;
  /** One `claim: header` per line. */
  claimHeaders: string;
  tokenTypes: KeyManagerTokenTypes;
  roleListType: 'none' | 'ALLOW' | 'DENY';
  roles: string[];
  caPem: string;
  clientCertificatePem: string;
  /** Write-only: empty keeps the stored key while a certificate stays. */
  clientKeyPem: string;
  /** Number inputs hold '' while being edited. */
  timing: Record<keyof KeyManagerTiming, number | string>;
  enabled: boolean;
}

/** The Manager's defaults (libs/domain DEFAULT_KEY_MANAGER_TIMING). */
export const DEFAULT_TIMING: KeyManagerTiming = {
  timeoutMs: 5_000,
  maxResponseBytes: 256 * 1024,
  jwksMinTtlSeconds: 60,
  jwksMaxTtlSeconds: 86_400,
  jwksDefaultTtlSeconds: 600,
  refreshAheadPercent: 20,
  unknownKidIntervalSeconds: 30,
  retryAfterErrorSeconds: 5,
  introspectionMaxTtlSeconds: 300,
  introspectionNegativeTtlSeconds: 10,
};

export const NEW_KEY_MANAGER: KeyManagerDraft = {
  name: '',
  description: '',
  scope: 'system',
  type: 'external',
  issuer: '',
  source: 'discovery',
  discoveryUrl: '',
  jwksUri: '',
  introspectionEndpoint: '',
  clientId: '',
  clientSecret: '',
  clientSecretId: '',
  sharedSecret: '',
  sharedSecretId: '',
  algorithms: ['RS256'],
  audiences: [],
  clockSkewSeconds: 30,
  requiredClaims: [],
  userIdClaim: 'sub',
  usernameClaim: 'sub',
  rolesClaim: 'roles',
  scopesClaim: 'scope',
  tenantClaim: '',
  claimHeaders: '',
  tokenTypes: 'jwt',
  roleListType: 'none',
  roles: [],
  caPem: '',
  clientCertificatePem: '',
  clientKeyPem: '',
  timing: { ...DEFAULT_TIMING },
  enabled: true,
};

export function draftOf(km: KeyManager): KeyManagerDraft {
  const m = km.claimMappings;
  return {
    name: km.name,
    description: km.description ?? '',
    scope: km.projectId ?? 'system',
    type: km.type,
    issuer: km.issuer ?? '',
    source: km.discoveryUrl ? 'discovery' : 'explicit',
    discoveryUrl: km.discoveryUrl ?? '',
    jwksUri: km.jwksUri ?? '',
    introspectionEndpoint: km.introspectionEndpoint ?? '',
    clientId: km.clientId ?? '',
    clientSecret: '',
    clientSecretId: km.clientSecretId ?? '',
    sharedSecret: '',
    sharedSecretId: km.sharedSecretId ?? '',
    algorithms: km.algorithms,
    audiences: km.audiences,
    clockSkewSeconds: km.clockSkewSeconds,
    requiredClaims: km.requiredClaims,
    userIdClaim: m.userId,
    usernameClaim: m.username,
    rolesClaim: m.roles,
    scopesClaim: m.scopes,
    tenantClaim: m.tenant ?? '',
    claimHeaders: Object.entries(m.headers)
      .map(([claim, header]) => `${claim}: ${header}`)
      .join('\n'),
    tokenTypes: km.tokenTypes,
    roleListType: km.roleList?.type ?? 'none',
    roles: km.roleList?.roles ?? [],
    caPem: km.tls.caPem ?? '',
    clientCertificatePem: km.tls.clientCertificatePem ?? '',
    clientKeyPem: '',
    timing: { ...DEFAULT_TIMING, ...km.timing },
    enabled: km.enabled,
  };
}

/** `claim: header` lines as the API's map; a line without a colon is kept whole so the Manager names it. */
export function parseClaimHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const colon = trimmed.lastIndexOf(':');
    if (colon < 0) headers[trimmed] = '';
    else headers[trimmed.slice(0, colon).trim()] = trimmed.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * The body of POST (create) or PATCH (update). On update, endpoints the chosen source does not
 * use are removed (null), an empty secret keeps the stored one, and type and scope never change.
 */
export function bodyOf(d: KeyManagerDraft, creating: boolean): Record<string, unknown> {
  const optional = (value: string) => (value.trim() === '' ? (creating ? undefined : null) : value.trim());
  const external = d.type === 'external';
  const discovery = d.source === 'discovery';
  const body: Record<string, unknown> = {
    name: d.name.trim(),
    description: optional(d.description),
    algorithms: d.algorithms,
    audiences: d.audiences,
    clockSkewSeconds: typeof d.clockSkewSeconds === 'number' ? d.clockSkewSeconds : Number(d.clockSkewSeconds),
    requiredClaims: d.requiredClaims,
    claimMappings: {
      userId: d.userIdClaim.trim(),
      username: d.usernameClaim.trim(),
      roles: d.rolesClaim.trim(),
      scopes: d.scopesClaim.trim(),
      ...(d.tenantClaim.trim() ? { tenant: d.tenantClaim.trim() } : {}),
      headers: parseClaimHeaders(d.claimHeaders),
    },
    tokenTypes: d.tokenTypes,
    roleList: d.roleListType === 'none' ? null : { type: d.roleListType, roles: d.roles },
    enabled: d.enabled,
  };
  if (creating) {
    body.type = d.type;
    body.projectId = d.scope === 'system' ? null : d.scope;
  }
  if (external) {
    body.issuer = d.issuer.trim() === '' ? undefined : d.issuer.trim();
    body.discoveryUrl = discovery ? optional(d.discoveryUrl) : creating ? undefined : null;
    body.jwksUri = discovery ? (creating ? undefined : null) : optional(d.jwksUri);
    body.introspectionEndpoint = discovery ? (creating ? undefined : null) : optional(d.introspectionEndpoint);
    body.clientId = optional(d.clientId);
    if (d.clientSecret !== '') body.clientSecret = d.clientSecret;
    if (d.sharedSecret !== '') body.sharedSecret = d.sharedSecret;
    // A picked project secret; none picked removes a stored reference (a sealed secret stays).
    body.clientSecretId = d.clientSecretId !== '' ? d.clientSecretId : creating ? undefined : null;
    body.sharedSecretId = d.sharedSecretId !== '' ? d.sharedSecretId : creating ? undefined : null;
    const pem = (value: string) => (value.trim() === '' ? undefined : value.trim());
    const tls = { caPem: pem(d.caPem), clientCertificatePem: pem(d.clientCertificatePem), clientKeyPem: pem(d.clientKeyPem) };
    body.tls = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
    body.timing = Object.fromEntries(Object.entries(d.timing).map(([k, v]) => [k, typeof v === 'number' ? v : Number(v)]));
  }
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}
