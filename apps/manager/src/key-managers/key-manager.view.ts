import { DEFAULT_KEY_MANAGER_TIMING, type KeyManager } from '@idm/domain';
import type { KeyManagerRow } from '../repositories/key-manager.repository';

/** The API's view of a row: secrets only as "set or not". */
export function keyManagerView(r: KeyManagerRow): KeyManager {
  const s = r.settings;
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    type: r.type,
    projectId: r.projectId,
    issuer: r.issuer,
    discoveryUrl: s.discoveryUrl,
    jwksUri: s.jwksUri,
    introspectionEndpoint: s.introspectionEndpoint,
    clientId: s.clientId,
    hasClientSecret: r.clientSecret !== null,
    clientSecretId: s.clientSecretId ?? null,
    hasSharedSecret: r.sharedSecret !== null,
    sharedSecretId: s.sharedSecretId ?? null,
    algorithms: s.algorithms as KeyManager['algorithms'],
    audiences: s.audiences,
    clockSkewSeconds: s.clockSkewSeconds,
    requiredClaims: s.requiredClaims,
    claimMappings: s.claimMappings,
    tokenTypes: s.tokenTypes,
    roleList: s.roleList,
    tls: { caPem: s.tls.caPem, clientCertificatePem: s.tls.clientCertificatePem, hasClientKey: r.tlsClientKey !== null },
    timing: s.timing ?? DEFAULT_KEY_MANAGER_TIMING,
    enabled: r.enabled,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
