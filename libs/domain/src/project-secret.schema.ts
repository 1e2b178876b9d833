import { z } from 'zod';
import { description, entityId, entityName, timestamp } from './names.schema';

/**
 * Project secrets: keys, certificates, trust stores and shared secrets that policies of the
 * owning project refer to by id (JOSE policies today). What is secret (a private key, a shared
 * secret) is sealed at rest and never returned; the public parts (public JWK, certificates, kid,
 * thumbprint) are. A secret has versions: a rotation adds one, and the previous one stays usable
 * (for verification and decryption) until its `retiresAt`.
 */
export const PROJECT_SECRET_KINDS = ['private-key', 'public-key', 'certificate', 'trust-store', 'shared-secret'] as const;
export type ProjectSecretKind = (typeof PROJECT_SECRET_KINDS)[number];

/** A PEM text or a JWK object (shared secrets: an `oct` JWK or the base64url of at least 16 bytes). */
export const secretMaterial = z.union([z.string().min(1).max(65536), z.record(z.string(), z.unknown())]);

/** Default overlap of a rotated-out version: one day. At most 90 days. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 86_400;

export const projectSecretMaterialSchema = z.strictObject({
  /** PEM (key, certificate chain leaf first, or CA bundle), a JWK, or the shared secret. */
  material: secretMaterial,
  /** A certificate's private key (PEM or JWK), for signing or decrypting with it. */
  privateKey: secretMaterial.optional(),
  /** Key id published with the key; omitted: the RFC 7638 thumbprint of the public key (shared secrets: of the oct JWK). */
  kid: z.string().min(1).max(200).optional(),
});

export const createProjectSecretSchema = projectSecretMaterialSchema.extend({
  name: entityName,
  description: description.nullable().optional(),
  teamId: entityId.nullable().optional(),
  kind: z.enum(PROJECT_SECRET_KINDS),
});
export type CreateProjectSecret = z.infer<typeof createProjectSecretSchema>;

export const rotateProjectSecretSchema = projectSecretMaterialSchema.extend({
  /** How long the version replaced stays usable for verification and decryption. */
  overlapSeconds: z
    .number()
    .int()
    .min(0)
    .max(90 * 86_400)
    .default(DEFAULT_SECRET_OVERLAP_SECONDS),
});
export type RotateProjectSecret = z.infer<typeof rotateProjectSecretSchema>;

export const updateProjectSecretSchema = z.strictObject({ name: entityName.optional(), description: description.nullable().optional() });
export type UpdateProjectSecret = z.infer<typeof updateProjectSecretSchema>;

/** One version as the API shows it: public parts only. */
export const projectSecretVersionSchema = z.object({
  version: z.number().int(),
  kid: z.string(),
  /** Public JWK (keys, a certificate's leaf key); null for shared secrets and trust stores. */
  publicJwk: z.record(z.string(), z.unknown()).nullable(),
  /** PEM certificates (certificate: the chain, leaf first; trust store: the CAs). */
  certificates: z.array(z.string()),
  /** SHA-256 thumbprint of the leaf certificate (base64url), as `x5t#S256`; null without one. */
  x5tS256: z.string().nullable(),
  /** Whether private or shared material is held (sealed, never returned). */
  hasSecretMaterial: z.boolean(),
  createdAt: timestamp,
  /** Null for the current version; a rotated-out version is usable until then. */
  retiresAt: timestamp.nullable(),
});

export const projectSecretSchema = z.object({
  id: entityId,
  projectId: entityId,
  teamId: entityId.nullable(),
  name: z.string(),
  description: z.string().nullable(),
  kind: z.enum(PROJECT_SECRET_KINDS),
  currentVersion: z.number().int(),
  versions: z.array(projectSecretVersionSchema),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type ProjectSecret = z.infer<typeof projectSecretSchema>;
export type ProjectSecretVersion = z.infer<typeof projectSecretVersionSchema>;

/**
 * A project secret in an APIops bundle. Its material is write-only: an export never carries it
 * (not even public parts, so nothing of a secret leaves through a bundle). A new secret needs it;
 * given for an existing one, it rotates the secret when it differs from the current version.
 */
export const bundleProjectSecretSchema = projectSecretMaterialSchema.partial({ material: true }).extend({
  name: entityName,
  description: description.nullable().default(null),
  team: entityName.nullable().default(null),
  kind: z.enum(PROJECT_SECRET_KINDS),
});
export type BundleProjectSecret = z.infer<typeof bundleProjectSecretSchema>;
