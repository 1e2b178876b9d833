import { tokenSettingsFields } from '@idm/domain';
import { z } from 'zod';
import { headerName, httpMethod } from '../schema-types';

/**
 * "Managed from this proxy's policy" (`/auth` prefix of the token service): a jwt-auth or
 * oauth2-auth policy may carry one client of the token service, whose id and secret are the
 * proxy's key and secret. The secret is write-only: the Manager seals it (`enc:v1:...`) before it
 * is stored, never returns it, and the Gateway opens it with the master key.
 */
const origin = z.union([z.literal('*'), z.string().regex(/^https?:\/\/[^/?#\s]+$/, 'must be an origin (scheme://host[:port])')]);

export const tokenCorsSchema = z.strictObject({
  /** Allowed Origin values; empty: no CORS headers at all. `*` allows any origin (never with credentials). */
  origins: z.array(origin).max(50).default([]),
  methods: z.array(httpMethod).max(10).default(['GET', 'POST', 'OPTIONS']),
  headers: z.array(headerName).max(30).default(['authorization', 'content-type']),
  credentials: z.boolean().default(false),
  maxAgeSeconds: z.number().int().min(0).max(86400).default(600),
});

export const forwardedForSchema = z.strictObject({
  /** Header carrying the client address chain; null: the socket peer is the client. */
  header: headerName.nullable().default(null),
  /** FIRST: the leftmost address (the original client); LAST: the rightmost (the nearest hop). */
  order: z.enum(['FIRST', 'LAST']).default('FIRST'),
});

export const tokenServicePolicySchema = tokenSettingsFields.extend({
  clientId: z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'must be 1-128 URL-safe characters'),
  /** Plaintext on the way in, sealed at rest; see the module comment. */
  clientSecret: z.string().min(1).max(4096),
  cors: tokenCorsSchema.default({ origins: [], methods: ['GET', 'POST', 'OPTIONS'], headers: ['authorization', 'content-type'], credentials: false, maxAgeSeconds: 600 }),
  forwardedFor: forwardedForSchema.default({ header: null, order: 'FIRST' }),
});

export type TokenServicePolicy = z.output<typeof tokenServicePolicySchema>;
export type TokenCors = z.output<typeof tokenCorsSchema>;
export type ForwardedFor = z.output<typeof forwardedForSchema>;
