import { z } from 'zod';
import { description, entityId, timestamp } from './names.schema';

/**
 * Dynamic client registration (RFC 7591/7592) at the Gateway's OpenID Provider, per project: off
 * unless an operator turns it on, and then only for callers holding one of the project's initial
 * access tokens (RFC 7591 §3: the registration endpoint is protected, never open).
 */
export const clientRegistrationSettingsSchema = z.strictObject({
  enabled: z.boolean().describe("whether callers holding one of the project's initial access tokens may register OIDC clients at the Gateways' /credential/register"),
});
export type ClientRegistrationSettings = z.infer<typeof clientRegistrationSettingsSchema>;

/** An initial access token as created: it is shown once (only its SHA-256 is stored). */
export const createInitialAccessTokenSchema = z.strictObject({
  description: description.optional().describe('who it is for, to recognise it in the list'),
  /** Seconds until it expires (one minute to 30 days); an initial access token always expires. */
  expiresInSeconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(86_400)
    .describe('seconds until it expires: 60 to 2592000 (30 days); one day when left empty'),
  /** Spent by the first successful registration. */
  singleUse: z.boolean().default(false).describe('spent by the first client registered with it'),
});
export type CreateInitialAccessToken = z.output<typeof createInitialAccessTokenSchema>;

export const initialAccessTokenSchema = z.object({
  id: entityId,
  projectId: entityId,
  /** The visible start of the token (`iat_xxxxxxxx`), to recognise it in lists and logs. */
  prefix: z.string(),
  description: z.string().nullable(),
  singleUse: z.boolean(),
  expiresAt: timestamp,
  /** When a single-use token was spent (null: not yet, or not single-use). */
  usedAt: timestamp.nullable(),
  /** How many clients registered with it. */
  registrations: z.number().int(),
  createdAt: timestamp,
});
export type InitialAccessToken = z.infer<typeof initialAccessTokenSchema>;

export const createdInitialAccessTokenSchema = initialAccessTokenSchema.extend({ token: z.string() });
export type CreatedInitialAccessToken = z.infer<typeof createdInitialAccessTokenSchema>;
