import { z } from 'zod';
import { entityId } from './names.schema';

/**
 * A project's OIDC clients (credentials whose token settings hold OIDC client settings) and, per
 * client, the end users who consented to it: read-only views for the console's client list.
 * Both are paged by username (`after`: the last username of the previous page).
 */
export const listOidcClientsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.string().max(128).optional(),
});
export type ListOidcClientsQuery = z.infer<typeof listOidcClientsQuerySchema>;

export const oidcClientSummarySchema = z.object({
  credentialId: entityId,
  username: z.string(),
  enabled: z.boolean(),
  clientType: z.enum(['confidential', 'public']),
  redirectUris: z.array(z.string()),
  consentRequired: z.boolean(),
});
export type OidcClientSummary = z.infer<typeof oidcClientSummarySchema>;

/** End users are looked at `limit` at a time: a page may hold fewer consents (or none) and still have a `next`. */
export const listClientConsentsQuerySchema = listOidcClientsQuerySchema;
export type ListClientConsentsQuery = ListOidcClientsQuery;

export const clientConsentPageSchema = z.object({
  items: z.array(z.object({ userId: entityId, username: z.string(), environment: z.string(), scopes: z.array(z.string()) })),
  /** The `after` of the next page; null when every end user was looked at. */
  next: z.string().nullable(),
});
export type ClientConsentPage = z.infer<typeof clientConsentPageSchema>;
