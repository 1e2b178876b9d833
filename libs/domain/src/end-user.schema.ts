import { z } from 'zod';
import { password, username } from './credential.schema';
import { entityId, timestamp } from './names.schema';

/*
 * End users: people who log in through a browser at the Gateway's OpenID Provider. An end user is
 * a credential of the project with an end-user profile (docs/architecture.md, "End users"), so
 * roles, enabled, expiry, password hashing, brute-force counting and publication to the Gateways
 * are the credential's; this schema is the profile the `/projects/{id}/users` API shows.
 */

const roleName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._:-]+$/);
/** BCP 47 language tag, as the OIDC `locale` claim carries it (e.g. "en", "tr-TR"). */
const locale = z
  .string()
  .max(35)
  .regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/, 'must be a BCP 47 language tag such as "en" or "tr-TR"');
const pictureUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .meta({ description: 'http(s) URL of the profile picture (the OIDC `picture` claim)' });
/** Custom profile attributes: flat string values, released in /userinfo under the `profile` scope. */
const attributes = z
  .record(
    z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/, 'attribute names must be letters, digits, ".", "_" or "-"'),
    z.string().max(1024),
  )
  .refine((a) => Object.keys(a).length <= 50, 'at most 50 attributes');

const profile = {
  email: z.email().max(254),
  emailVerified: z.boolean(),
  name: z.string().max(200).nullable(),
  givenName: z.string().max(100).nullable(),
  familyName: z.string().max(100).nullable(),
  locale: locale.nullable(),
  pictureUrl: pictureUrl.nullable(),
  attributes,
  roles: z.array(roleName).max(50),
};

export const createEndUserSchema = z.strictObject({
  username,
  /** Absent: the user cannot log in with a password until one is set (a federated identity, later). */
  password: password.optional(),
  teamId: z.uuid().nullable().default(null),
  email: profile.email,
  emailVerified: profile.emailVerified.default(false),
  name: profile.name.default(null),
  givenName: profile.givenName.default(null),
  familyName: profile.familyName.default(null),
  locale: profile.locale.default(null),
  pictureUrl: profile.pictureUrl.default(null),
  attributes: profile.attributes.default({}),
  roles: profile.roles.default([]),
  enabled: z.boolean().default(true),
});
export type CreateEndUser = z.infer<typeof createEndUserSchema>;

/** Every field optional; `enabled: false` disables, `locked` locks out (both refuse the login page and every token). */
export const updateEndUserSchema = z.strictObject({
  password: password.nullable().optional(),
  email: profile.email.optional(),
  emailVerified: profile.emailVerified.optional(),
  name: profile.name.optional(),
  givenName: profile.givenName.optional(),
  familyName: profile.familyName.optional(),
  locale: profile.locale.optional(),
  pictureUrl: profile.pictureUrl.optional(),
  /** Replaces all attributes. */
  attributes: profile.attributes.optional(),
  roles: profile.roles.optional(),
  enabled: z.boolean().optional(),
  locked: z.boolean().optional(),
});
export type UpdateEndUser = z.infer<typeof updateEndUserSchema>;

/** Keyset pages by username; `search` matches username, email or name (case-insensitive substring). */
export const listEndUsersQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.string().max(128).optional(),
  search: z.string().min(1).max(128).optional(),
});
export type ListEndUsersQuery = z.infer<typeof listEndUsersQuerySchema>;

export const endUserSchema = z.object({
  id: entityId,
  projectId: entityId,
  teamId: entityId.nullable(),
  username: z.string(),
  hasPassword: z.boolean(),
  email: z.string(),
  emailVerified: z.boolean(),
  name: z.string().nullable(),
  givenName: z.string().nullable(),
  familyName: z.string().nullable(),
  locale: z.string().nullable(),
  pictureUrl: z.string().nullable(),
  attributes: z.record(z.string(), z.string()),
  roles: z.array(z.string()),
  enabled: z.boolean(),
  locked: z.boolean(),
  /** The identity source this user was provisioned from at their first login (null: a local user); its directory owns the password, email, name and roles. */
  identitySource: z.object({ id: entityId, name: z.string() }).nullable(),
  /** The last login at any Gateway's login page (null: never, or not recorded since Redis lost it). */
  lastLoginAt: timestamp.nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type EndUser = z.infer<typeof endUserSchema>;

/** What the Gateways know of an end user (on the snapshot credential): the claims it releases and the lock. */
export interface EndUserProfile {
  email: string;
  emailVerified: boolean;
  givenName: string | null;
  familyName: string | null;
  locale: string | null;
  pictureUrl: string | null;
  attributes: Record<string, string>;
  locked: boolean;
  /**
   * Set for a user provisioned from an identity source at first login (just in time): the
   * source's id. Only that source checks the user's password; each login refreshes the profile.
   */
  identitySourceId?: string | null;
}
