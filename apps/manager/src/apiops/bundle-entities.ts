import {
  bundleIdentitySourceSchema,
  bundleKeyManagerSchema,
  type BundleIdentitySource,
  type BundleKeyManager,
  type BundleOidcSourceConfig,
  type BundleProjectSecret,
  type OidcSourceConfig,
  type SecretBox,
} from '@idm/domain';
import type { IdentitySourceRow } from '../repositories/identity-source.repository';
import type { KeyManagerRow } from '../repositories/key-manager.repository';
import type { ProjectSecretRow } from '../repositories/project-secret.repository';
import { readSecretMaterial } from '../project-secrets/secret-material';
import { canonicalJson } from './canonical-json';

/** What a plan compares of a key manager besides its write-only secrets. */
export const KEY_MANAGER_FIELDS = [
  'description',
  'type',
  'issuer',
  'discoveryUrl',
  'jwksUri',
  'introspectionEndpoint',
  'clientId',
  'clientSecretName',
  'sharedSecretName',
  'algorithms',
  'audiences',
  'clockSkewSeconds',
  'requiredClaims',
  'claimMappings',
  'tokenTypes',
  'roleList',
  'tls',
  'timing',
  'enabled',
] as const;

const withoutUndefined = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * A stored key manager as a bundle holds it: settings by value, no secret, a project secret it
 * takes its client secret or HS* key from by name (`secretNames`: id -> name). Parsed so defaults match a written bundle's.
 */
export function keyManagerEntry(r: KeyManagerRow, secretNames: ReadonlyMap<string, string>): BundleKeyManager {
  const s = r.settings;
  const orUndefined = (v: string | null) => v ?? undefined;
  return withoutUndefined(
    bundleKeyManagerSchema.parse({
      name: r.name,
      description: orUndefined(r.description),
      type: r.type,
      issuer: orUndefined(r.issuer),
      discoveryUrl: orUndefined(s.discoveryUrl),
      jwksUri: orUndefined(s.jwksUri),
      introspectionEndpoint: orUndefined(s.introspectionEndpoint),
      clientId: orUndefined(s.clientId),
      clientSecretName: s.clientSecretId ? (secretNames.get(s.clientSecretId) ?? s.clientSecretId) : undefined,
      sharedSecretName: s.sharedSecretId ? (secretNames.get(s.sharedSecretId) ?? s.sharedSecretId) : undefined,
      algorithms: s.algorithms,
      audiences: s.audiences,
      clockSkewSeconds: s.clockSkewSeconds,
      requiredClaims: s.requiredClaims,
      claimMappings: s.claimMappings,
      tokenTypes: s.tokenTypes,
      roleList: s.roleList,
      tls: withoutUndefined({ caPem: orUndefined(s.tls.caPem), clientCertificatePem: orUndefined(s.tls.clientCertificatePem) }),
      timing: s.timing,
      enabled: r.enabled,
    }),
  );
}

/** A key manager's fields a plan compares: its settings, the TLS key left out (compared on its own). */
export function comparableKeyManager(k: BundleKeyManager): Record<string, unknown> {
  const { clientSecret: _, sharedSecret: __, tls, ...rest } = withoutUndefined(k);
  return { ...rest, tls: { caPem: tls.caPem, clientCertificatePem: tls.clientCertificatePem } };
}

/** Write-only secrets the bundle supplies that differ from the stored (sealed) ones, by the field a plan names. */
export function changedKeyManagerSecrets(desired: BundleKeyManager, row: KeyManagerRow, box: SecretBox): string[] {
  const differs = (plain: string | undefined, sealed: string | null) => plain !== undefined && (sealed === null || box.open(sealed) !== plain);
  return [
    ...(differs(desired.clientSecret, row.clientSecret) ? ['clientSecret'] : []),
    ...(differs(desired.sharedSecret, row.sharedSecret) ? ['sharedSecret'] : []),
    ...(differs(desired.tls.clientKeyPem, row.tlsClientKey) ? ['tls.clientKeyPem'] : []),
  ];
}

/** What a plan compares of an identity source besides its write-only secret. */
export const IDENTITY_SOURCE_FIELDS = ['description', 'type', 'config', 'roleMappings', 'timeoutMs', 'cacheTtlSeconds', 'enabled', 'sync'] as const;

/**
 * A stored identity source as a bundle holds it: settings by value, the secret never — only
 * `secret: null` when it has none, so a source without one moves between installations as is.
 * An oidc source's client secret from a project secret is named (`config.clientSecretName`; `secretNames`: id -> name).
 */
export function identitySourceEntry(r: IdentitySourceRow, secretNames: ReadonlyMap<string, string>): BundleIdentitySource {
  return withoutUndefined(
    bundleIdentitySourceSchema.parse({
      name: r.name,
      description: r.description,
      type: r.type,
      config: r.type === 'oidc' ? oidcConfigByName(r.config as OidcSourceConfig, secretNames) : r.config,
      roleMappings: r.roleMappings,
      timeoutMs: r.timeoutMs,
      cacheTtlSeconds: r.cacheTtlSeconds,
      enabled: r.enabled,
      sync: r.sync ?? null,
      ...(r.secret === null ? { secret: null } : {}),
    }),
  );
}

function oidcConfigByName({ clientSecretId, ...config }: OidcSourceConfig, secretNames: ReadonlyMap<string, string>): BundleOidcSourceConfig {
  // A dangling id (its secret deleted under it) stays as it is, so the plan reports it rather than dropping it silently.
  return clientSecretId === undefined ? config : { ...config, clientSecretName: secretNames.get(clientSecretId) ?? clientSecretId };
}

/** A bundle's oidc config as the service stores it (`nameToId`: name -> id of the project's secrets, new ones included once created). */
export function oidcConfigById({ clientSecretName, ...config }: BundleOidcSourceConfig, nameToId: ReadonlyMap<string, string>): OidcSourceConfig {
  return clientSecretName === undefined ? config : { ...config, clientSecretId: nameToId.get(clientSecretName) ?? clientSecretName };
}

/**
 * The sealed secret a bundle entry asks for: as written, except that an oidc source naming a
 * project secret for its client secret has no sealed one (the service takes one or the other),
 * so a stored one goes when a bundle switches the source to a named secret.
 */
export function desiredIdentitySourceSecret(desired: BundleIdentitySource): string | null | undefined {
  if (desired.type === 'oidc' && desired.config.clientSecretName !== undefined && desired.secret === undefined) return null;
  return desired.secret;
}

/** Whether applying changes the stored (sealed) secret: a supplied one that opens to another value, or null over a stored one. */
export function identitySourceSecretChanges(desired: BundleIdentitySource, row: IdentitySourceRow, box: SecretBox): boolean {
  const secret = desiredIdentitySourceSecret(desired);
  if (secret === undefined) return false;
  if (secret === null || row.secret === null) return secret !== row.secret;
  return box.open(row.secret) !== secret;
}

/** A stored secret as a bundle holds it: never its material, not even the public parts. */
export function secretEntry(row: ProjectSecretRow, team: string | null): BundleProjectSecret {
  return { name: row.name, description: row.description, team, kind: row.kind };
}

/**
 * Whether supplied material is another key than the secret's current version (then applying
 * rotates it). Reads it as a create would, so bad material fails the plan with the field.
 */
export async function materialDiffers(desired: BundleProjectSecret, row: ProjectSecretRow | undefined, box: SecretBox): Promise<boolean> {
  if (desired.material === undefined) return false;
  const { secretJwk, ...read } = await readSecretMaterial(desired.kind, { material: desired.material, privateKey: desired.privateKey, kid: desired.kid });
  if (!row) return true;
  const current = row.versions[row.versions.length - 1];
  const storedSecret = current.sealed === null ? null : (JSON.parse(box.open(current.sealed)) as unknown);
  const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);
  return !(same(read.kid, current.kid) && same(read.publicJwk, current.publicJwk) && same(read.certificates, current.certificates) && same(secretJwk, storedSecret));
}
