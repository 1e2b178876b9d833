import { isIP } from 'node:net';
import { z } from 'zod';
import { httpMethod } from './api-proxy.schema';
import { entityId, timestamp } from './names.schema';

export const username = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._@+-]+$/, 'must be 1-128 chars of letters, digits, ".", "_", "@", "+" or "-"');

/** Passwords are write-only: accepted here, stored as argon2id, never returned. */
export const password = z.string().min(8).max(256);
const expiresAt = z.iso.datetime({ offset: true }).nullable();

/**
 * Free-form facts about a consumer. Secret entries are encrypted at rest and write-only: responses
 * show the key but never the value; on update a secret entry without a value keeps the old one.
 */
export const metadataEntrySchema = z.strictObject({
  key: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._-]+$/, 'must be letters, digits, ".", "_" or "-"'),
  value: z.string().max(4096).optional(),
  secret: z.boolean().default(false),
  includeInJwt: z.boolean().default(false),
  includeInTokenResponse: z.boolean().default(false),
});
const metadata = z
  .array(metadataEntrySchema)
  .max(50)
  .refine((entries) => new Set(entries.map((e) => e.key)).size === entries.length, 'metadata keys must be unique');
const profile = {
  email: z.email().max(254).nullable(),
  fullName: z.string().max(200).nullable(),
  description: z.string().max(1000).nullable(),
  roles: z
    .array(
      z
        .string()
        .min(1)
        .max(64)
        .regex(/^[A-Za-z0-9._:-]+$/),
    )
    .max(50),
};
export type MetadataEntry = z.infer<typeof metadataEntrySchema>;

/** "10.0.0.0/8", "2001:db8::/32" or a single address (a /32 or /128). */
export const cidr = z
  .string()
  .max(64)
  .refine((value) => {
    const [address, prefix, extra] = value.split('/');
    const family = isIP(address);
    if (family === 0 || extra !== undefined) return false;
    if (prefix === undefined) return true;
    if (!/^\d{1,3}$/.test(prefix)) return false;
    return Number(prefix) <= (family === 4 ? 32 : 128);
  }, 'must be an IPv4 or IPv6 address or CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32)');

/** A named CIDR list (IPv4 and IPv6 may be mixed). */
export const ipGroupSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._-]+$/, 'must be letters, digits, ".", "_" or "-"'),
  cidrs: z.array(cidr).min(1).max(1000),
});

/**
 * Endpoint pattern relative to the proxy's base path: "/orders/*" matches one segment,
 * "/orders/**" any rest (including nothing); everything else is literal.
 */
const endpointPattern = z
  .string()
  .min(1)
  .max(512)
  .regex(/^\/[^\s?#]*$/, 'must start with "/" and contain no spaces, "?" or "#"');
const endpointRule = z.strictObject({
  /** null: every proxy of the project. */
  proxyId: z.uuid().nullable().default(null),
  path: endpointPattern,
  /** Empty: every method. */
  methods: z.array(httpMethod).max(7).default([]),
});

const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be HH:MM (00:00-24:00)');
const timeZone = z
  .string()
  .max(64)
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as "Europe/Istanbul" or "UTC"');
const timeWindow = z
  .strictObject({
    /** Days of the week, in the rule's time zone; empty together with `dates`: every day. */
    days: z.array(weekday).max(7).default([]),
    /** Specific calendar dates (YYYY-MM-DD) in the rule's time zone. */
    dates: z.array(z.iso.date()).max(366).default([]),
    /** Omit both for the whole day; `to` is exclusive, 24:00 means end of day. */
    from: clock.optional(),
    to: clock.optional(),
  })
  .refine((w) => (w.from === undefined) === (w.to === undefined), 'give both "from" and "to", or neither for the whole day')
  .refine((w) => w.from === undefined || w.from < w.to!, '"from" must be before "to"')
  // JSON Schema can say "both or neither" (not "from before to"): clients see that much.
  .meta({ dependentRequired: { from: ['to'], to: ['from'] }, description: '"from" and "to" together (from before to), or neither for the whole day' });

// Titles and descriptions (.meta) reach the JSON Schema, where the console labels its generated forms with them.
const rateLimit = z.strictObject({
  limit: z.number().int().min(1).max(1_000_000_000).meta({ title: 'Requests allowed', description: 'How many requests a window admits' }),
  windowSeconds: z
    .number()
    .int()
    .min(1)
    .max(31 * 24 * 3600)
    .meta({ title: 'Window (seconds)' }),
  /** fixed: counter per aligned window; sliding: exact log of the last window (memory grows with limit). */
  algorithm: z
    .enum(['fixed', 'sliding'])
    .meta({ title: 'Algorithm', description: 'fixed: one counter per aligned window; sliding: the exact last window (memory grows with the limit)' })
    .default('fixed'),
});
const quota = z.strictObject({
  limit: z.number().int().min(1).max(1_000_000_000).meta({ title: 'Requests allowed' }),
  /** Calendar periods in UTC (month: from the 1st, 00:00 UTC). */
  period: z.enum(['hour', 'day', 'month']).meta({ title: 'Per', description: 'Calendar period in UTC (a month starts on the 1st, 00:00 UTC)' }),
});

/** Rate limits and quotas, counted in Redis and shared by every Gateway of the environment. */
export const rateLimitRulesSchema = z.strictObject({
  /** Several limits combine, e.g. a burst of 20 per second within 1000 per minute. */
  limits: z.array(rateLimit).max(10).meta({ title: 'Rate limits', description: 'Several combine, e.g. 20 per second within 1000 per minute' }).default([]),
  quotas: z.array(quota).max(3).meta({ title: 'Quotas', description: 'Requests per calendar hour, day or month' }).default([]),
  /** When Redis cannot be asked: "allow" keeps traffic flowing, "deny" answers 503. */
  onStoreUnavailable: z.enum(['allow', 'deny']).meta({ title: 'When the counter store is down', description: 'allow keeps traffic flowing; deny answers 503' }).default('allow'),
});
export type RateLimitRules = z.output<typeof rateLimitRulesSchema>;

/**
 * A budget of LLM tokens (prompt + completion, as the upstream reports them or the Gateway
 * estimates them) per calendar period in UTC, shared by every Gateway of the environment.
 */
export const llmTokenQuotaSchema = z.strictObject({
  limit: z.number().int().min(1).max(1_000_000_000_000),
  period: z.enum(['minute', 'day', 'month']),
});
export type LlmTokenQuota = z.output<typeof llmTokenQuotaSchema>;

/** A model name as OpenAI-compatible APIs spell it (`gpt-4o-mini`, `meta-llama/Llama-3.1-8B`, `ft:gpt-4o:org:x:1`). */
export const llmModelName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9._:@/+-]+$/, 'must be 1-256 chars of letters, digits, ".", "_", ":", "@", "/", "+" or "-"');

/** What a credential may do on LLM routes (proxies with an `llm-route` policy). */
export const llmAccessSchema = z.strictObject({
  /** Models the credential may name in a request; null: any model. */
  models: z.array(llmModelName).max(200).nullable().default(null),
  /** At most one quota per period. */
  tokenQuotas: z
    .array(llmTokenQuotaSchema)
    .max(3)
    .default([])
    .refine((q) => new Set(q.map((x) => x.period)).size === q.length, 'give at most one quota per period'),
  /** When Redis cannot be asked: "allow" lets the call through uncounted, "deny" answers 503. */
  onStoreUnavailable: z.enum(['allow', 'deny']).default('allow'),
});
export type LlmAccess = z.output<typeof llmAccessSchema>;

/**
 * What a credential may do once authenticated, evaluated on the Gateway in this order: ACL,
 * IP groups, geo, time windows, rate limits. An empty object allows everything.
 */
export const credentialAccessSchema = z.strictObject({
  acl: z
    .strictObject({
      /** null: every proxy of the project. */
      allowedProxies: z.array(z.uuid()).max(1000).nullable().default(null),
      deniedProxies: z.array(z.uuid()).max(1000).default([]),
      /** When non-empty, only these endpoints may be called. */
      allowedEndpoints: z.array(endpointRule).max(200).default([]),
      deniedEndpoints: z.array(endpointRule).max(200).default([]),
      /** null: every method the proxy accepts. */
      allowedMethods: z.array(httpMethod).max(7).nullable().default(null),
      deniedMethods: z.array(httpMethod).max(7).default([]),
    })
    .optional(),
  ip: z
    .strictObject({
      /** When non-empty, the client IP must be in one of these groups. */
      allow: z.array(ipGroupSchema).max(50).default([]),
      deny: z.array(ipGroupSchema).max(50).default([]),
    })
    .optional(),
  geo: z
    .strictObject({
      /** ISO 3166-1 alpha-2 codes. When non-empty, only these countries may call. */
      allowedCountries: z
        .array(z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code'))
        .max(250)
        .default([]),
      deniedCountries: z
        .array(z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code'))
        .max(250)
        .default([]),
      /** Addresses the database does not place (private ranges, new blocks). */
      unknownLocation: z.enum(['allow', 'deny']).default('allow'),
    })
    .optional(),
  time: z
    .strictObject({
      /** ALLOW: only inside a window; RESTRICT: never inside a window. */
      mode: z.enum(['allow', 'restrict']),
      timeZone: timeZone.default('UTC'),
      windows: z.array(timeWindow).min(1).max(50),
    })
    .optional(),
  rateLimit: rateLimitRulesSchema.optional(),
  /** Model allow-list and token quotas on LLM routes. */
  llm: llmAccessSchema.optional(),
});
export type CredentialAccess = z.output<typeof credentialAccessSchema>;

/**
 * The realm every Digest HA1 is computed for (H(username:realm:password) needs it when the
 * password is set, long before a request names a proxy): one realm per installation.
 */
export const DIGEST_REALM = 'identity-manager';

const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;
/** One PEM certificate per entry (parsed by the Gateway at compile time; a bad one fails closed there). */
const truststore = z.array(z.string().max(16_384).regex(PEM_CERTIFICATE, 'must be one PEM certificate (-----BEGIN CERTIFICATE----- ...)')).max(20);

export const createCredentialSchema = z
  .strictObject({
    username,
    password: password.optional(),
    /** Owning team inside the project (null: the project itself). */
    teamId: z.uuid().nullable().default(null),
    enabled: z.boolean().default(true),
    expiresAt: expiresAt.optional(),
    /** Issue one API key with the credential (shown once in the response). */
    issueApiKey: z.boolean().default(true),
    email: profile.email.default(null),
    fullName: profile.fullName.default(null),
    description: profile.description.default(null),
    roles: profile.roles.default([]),
    metadata: metadata.default([]),
    /** Authorization rules applied after authentication (ACL, IP, geo, time, rate limits). */
    access: credentialAccessSchema.default({}),
    /** CA certificates (PEM) a client certificate must chain to when mtls-auth validates. */
    truststore: truststore.optional(),
  })
  .meta({
    examples: [
      {
        username: 'billing-service',
        password: 'a-long-password',
        metadata: [{ key: 'tier', value: 'gold', includeInJwt: true }],
        access: {
          time: { mode: 'allow', timeZone: 'Europe/Istanbul', windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' }] },
          rateLimit: { limits: [{ limit: 100, windowSeconds: 60 }] },
        },
      },
    ],
  });
export const updateCredentialSchema = z.strictObject({
  password: password.nullable().optional(),
  teamId: z.uuid().nullable().optional(),
  enabled: z.boolean().optional(),
  expiresAt: expiresAt.optional(),
  email: profile.email.optional(),
  fullName: profile.fullName.optional(),
  description: profile.description.optional(),
  roles: profile.roles.optional(),
  metadata: metadata.optional(),
  /** Replaces all rules; `{}` removes them. */
  access: credentialAccessSchema.optional(),
  /** Replaces the truststore; `[]` empties it. */
  truststore: truststore.optional(),
});
/** Keyset pagination by username: pass the last username of a page as `after`. */
export const listCredentialsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.string().max(128).optional(),
});
export type ListCredentialsQuery = z.infer<typeof listCredentialsQuerySchema>;

export const createApiKeySchema = z.strictObject({ expiresAt: expiresAt.optional() });
/** Rotation: a new key now; the old one keeps working for the grace period (0 = revoke at once). */
export const rotateApiKeySchema = z.strictObject({
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
});
export type RotateApiKey = z.infer<typeof rotateApiKeySchema>;

export type CreateCredential = z.infer<typeof createCredentialSchema>;
export type UpdateCredential = z.infer<typeof updateCredentialSchema>;
export type CreateApiKey = z.infer<typeof createApiKeySchema>;

export const apiKeyInfoSchema = z.object({
  id: entityId,
  /** Visible prefix that identifies a key without revealing it, e.g. "idm_3fA9c1Qe". */
  prefix: z.string(),
  expiresAt: timestamp.nullable(),
  createdAt: timestamp,
});
export type ApiKeyInfo = z.infer<typeof apiKeyInfoSchema>;

/** The only response that ever carries an API key in clear. */
export const issuedApiKeySchema = apiKeyInfoSchema.extend({ key: z.string() });
export type IssuedApiKey = z.infer<typeof issuedApiKeySchema>;

export const rotatedApiKeySchema = issuedApiKeySchema.extend({
  /** The replaced key and until when it still works. */
  replaced: z.object({ id: entityId, prefix: z.string(), expiresAt: timestamp }),
});
export type RotatedApiKey = z.infer<typeof rotatedApiKeySchema>;

export const credentialSchema = z.object({
  id: entityId,
  projectId: entityId,
  teamId: entityId.nullable(),
  username: z.string(),
  hasPassword: z.boolean(),
  enabled: z.boolean(),
  email: z.string().nullable(),
  fullName: z.string().nullable(),
  description: z.string().nullable(),
  roles: z.array(z.string()),
  /** Secret entries come back without their value. */
  metadata: z.array(metadataEntrySchema.extend({ value: z.string().optional() })),
  access: credentialAccessSchema,
  /** CA certificates (PEM, public) for mtls-auth. */
  truststore: z.array(z.string()),
  expiresAt: timestamp.nullable(),
  apiKeys: z.array(apiKeyInfoSchema),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type Credential = z.infer<typeof credentialSchema>;

/** A created credential carries its first API key, once, unless `issueApiKey: false`. */
export const createdCredentialSchema = credentialSchema.extend({ apiKey: issuedApiKeySchema.optional() });
export type CreatedCredential = z.infer<typeof createdCredentialSchema>;

/** An application asking for its own credential to call a proxy (self-service). */
export const credentialRequestSchema = z.strictObject({
  proxyId: z.uuid(),
  username,
  contact: z.string().max(254).optional(),
});
export type CredentialRequestInput = z.infer<typeof credentialRequestSchema>;

export const credentialRequestViewSchema = z.object({
  id: entityId,
  proxyId: entityId,
  username: z.string(),
  contact: z.string().nullable(),
  status: z.enum(['pending', 'approved', 'rejected']),
  credentialId: entityId.nullable(),
  /** The approving operator's name, `auto`, or null while pending. */
  decidedBy: z.string().nullable(),
  createdAt: timestamp,
});
export type CredentialRequestView = z.infer<typeof credentialRequestViewSchema>;

/** What the requester gets back: the poll secret (once), and the key at once when auto-approved. */
export const submittedCredentialRequestSchema = credentialRequestViewSchema.extend({ pollSecret: z.string(), apiKey: z.string().optional() });
/** A poll: the approved key comes exactly once. */
export const polledCredentialRequestSchema = credentialRequestViewSchema.extend({ apiKey: z.string().optional() });
export type SubmittedCredentialRequest = z.infer<typeof submittedCredentialRequestSchema>;
export type PolledCredentialRequest = z.infer<typeof polledCredentialRequestSchema>;
