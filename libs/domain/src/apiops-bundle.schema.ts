import { endUserRegistrationSettingsSchema } from './end-user-registration.schema';
import { clientRegistrationSettingsSchema } from './client-registration.schema';
import { z } from 'zod';
import { projectBruteForceSettingsSchema } from './brute-force-settings.schema';
import { basePath, httpMethod, policySpecSchema, upstreamUrl } from './api-proxy.schema';
import { credentialAccessSchema, metadataEntrySchema, password, username } from './credential.schema';
import { bundleIdentitySourceSchema } from './identity-source.schema';
import { bundleKeyManagerSchema } from './key-manager.schema';
import { description, entityName } from './names.schema';
import { bundleProjectSecretSchema } from './project-secret.schema';
import { PERMISSIONS } from './permissions';
import { tokenSettingsSchema } from './token-settings.schema';
import { validatedByService } from './validated-by-service';

/**
 * A project as code: what APIops `plan`/`apply`/`export` exchange. Entities are identified by
 * name, never by id, so a bundle can be applied to another installation. Secrets are write-only:
 * a password given here is set (and compared, never read back); export leaves them out.
 */
export const BUNDLE_API_VERSION = 'idm/v1';

const bundleProxy = z.strictObject({
  name: entityName,
  description: description.nullable().default(null),
  team: entityName.nullable().default(null),
  basePath,
  upstreamUrl,
  methods: z.array(httpMethod).min(1),
  policies: z.array(policySpecSchema).default([]),
  environments: z.array(entityName).default([]),
  selfService: z.enum(['off', 'auto', 'manual']).default('off'),
});

const bundleCredential = z.strictObject({
  username,
  team: entityName.nullable().default(null),
  enabled: z.boolean().default(true),
  expiresAt: z.iso.datetime({ offset: true }).nullable().default(null),
  email: z.email().nullable().default(null),
  fullName: z.string().max(200).nullable().default(null),
  description: description.nullable().default(null),
  roles: z.array(z.string().min(1).max(64)).default([]),
  metadata: z.array(metadataEntrySchema).default([]),
  /** Authorization rules enforced by the Gateway after authentication. */
  access: credentialAccessSchema.default({}),
  /** Write-only. Omitted: the current password (if any) is kept. */
  password: password.optional(),
  /**
   * How the credential gets tokens (the admin API's token settings, same rules; key managers and
   * identity sources by name). Null: it cannot get tokens (stored ones are removed); left out: kept as they are.
   */
  tokenSettings: tokenSettingsSchema.nullable().optional(),
});

export const apiopsBundleSchema = z.strictObject({
  apiVersion: z.literal(BUNDLE_API_VERSION),
  kind: z.literal('ProjectBundle'),
  project: z.strictObject({ name: entityName, description: description.nullable().default(null) }),
  teams: z.array(z.strictObject({ name: entityName, description: description.nullable().default(null) })).default([]),
  roles: z.array(z.strictObject({ name: entityName, description: description.nullable().default(null), permissions: z.array(z.enum(PERMISSIONS)).min(1) })).default([]),
  /** The project's own secrets, material write-only. Policies name them (`secretName`, `trustStoreSecretName`, ...). */
  secrets: z.array(bundleProjectSecretSchema).default([]),
  /** The project's own key managers; policies name them, and System ones, in `keyManagers`. */
  keyManagers: z.array(bundleKeyManagerSchema).default([]),
  /** The project's own identity sources (LDAP, SQL), secrets write-only; policies and token settings name them, and System ones. */
  identitySources: z.array(bundleIdentitySourceSchema).default([]),
  proxies: z.array(bundleProxy).default([]),
  credentials: z.array(bundleCredential).default([]),
  /** The project's brute-force settings; null removes them (the environment's detectors apply), left out: kept as they are. */
  bruteForceSettings: projectBruteForceSettingsSchema.nullable().optional(),
  /** The project's end-user self-registration switch; left out: kept as it is (off unless set). */
  endUserRegistration: endUserRegistrationSettingsSchema.optional(),
  /**
   * The project's dynamic client registration switch (RFC 7591); left out: kept as it is (off
   * unless set). Clients registered through it belong to their registrants: bundles neither
   * export, update nor prune them.
   */
  clientRegistration: clientRegistrationSettingsSchema.optional(),
});

export const apiopsRequestSchema = z.strictObject({
  /** Checked by the APIops service against `apiopsBundleSchema` (400 `invalid_bundle`). */
  bundle: validatedByService(z.unknown(), apiopsBundleSchema),
  /** Also delete teams, secrets, key managers, identity sources, proxies and credentials of the project that the bundle does not list. */
  prune: z.boolean().default(false),
});

export const plannedChangeSchema = z.object({
  op: z.enum(['create', 'update', 'delete']),
  kind: z.enum([
    'project',
    'role',
    'team',
    'project_secret',
    'key_manager',
    'identity_source',
    'api_proxy',
    'credential',
    'token_settings',
    'brute_force_settings',
    'end_user_registration',
    'client_registration_settings',
  ]),
  name: z.string(),
  /** For updates: the fields that differ. */
  fields: z.array(z.string()).optional(),
});
export const apiopsPlanSchema = z.object({ project: z.string(), changes: z.array(plannedChangeSchema) });
export const apiopsAppliedSchema = z.object({ project: z.string(), applied: z.array(plannedChangeSchema) });
export type PlannedChange = z.infer<typeof plannedChangeSchema>;
export type ApiopsPlan = z.infer<typeof apiopsPlanSchema>;
export type ApiopsApplied = z.infer<typeof apiopsAppliedSchema>;
export type PlannedKind = PlannedChange['kind'];

export type ApiopsBundle = z.infer<typeof apiopsBundleSchema>;
export type BundleProxy = z.infer<typeof bundleProxy>;
export type BundleCredential = z.infer<typeof bundleCredential>;
