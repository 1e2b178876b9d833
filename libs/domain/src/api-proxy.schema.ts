import { z } from 'zod';
import { description, entityId, entityName, timestamp } from './names.schema';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const httpMethod = z.enum(HTTP_METHODS);
export type HttpMethod = z.infer<typeof httpMethod>;

/**
 * A base path is the routing key on the Gateway: "/" followed by segments, no trailing slash,
 * no dot segments, no query. Reserved prefixes belong to the Gateway's own endpoints.
 */
export const RESERVED_BASE_PATHS = ['/health', '/metrics', '/auth', '/credential', '/.well-known'];
export const basePath = z
  .string()
  .max(200)
  .regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'must look like /segment[/segment...] without trailing slash')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain dot segments')
  .refine((p) => !RESERVED_BASE_PATHS.some((r) => p === r || p.startsWith(r + '/')), `must not start with a reserved prefix (${RESERVED_BASE_PATHS.join(', ')})`)
  // The two refinements above as JSON Schema, so clients see them.
  .meta({
    not: {
      anyOf: [{ pattern: '(^|/)\\.\\.?(/|$)' }, { pattern: `^(${RESERVED_BASE_PATHS.map((r) => r.replace(/[.]/g, '\\.')).join('|')})(/|$)` }],
    },
  });

export const upstreamUrl = z
  .string()
  .max(2000)
  .refine((u) => {
    try {
      const url = new URL(u);
      return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && !url.search && !url.hash;
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL without credentials, query or fragment')
  // The refinement above is invisible to JSON Schema; this is its shape for clients.
  .meta({ format: 'uri', pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+(/[^?#]*)?$' });

/** Policy config is validated against the policy type's own schema by the policy registry. */
export const policySpecSchema = z.strictObject({
  type: z.string().min(1).max(64),
  config: z.record(z.string(), z.unknown()).default({}),
});
export type PolicySpec = z.infer<typeof policySpecSchema>;

const proxyFields = {
  name: entityName,
  description: description.optional(),
  basePath,
  upstreamUrl,
  methods: z
    .array(httpMethod)
    .min(1)
    .max(HTTP_METHODS.length)
    .refine((m) => new Set(m).size === m.length, 'must not repeat a method')
    .meta({ uniqueItems: true }),
  policies: z.array(policySpecSchema).max(50),
  /** Owning team inside the project (null: the project itself). */
  teamId: z.uuid().nullable(),
  /** Whether applications may request a credential for this proxy themselves, and who approves. */
  selfService: z.enum(['off', 'auto', 'manual']),
  /** Names of the environments the proxy is deployed to. */
  environments: z.array(z.string().min(1).max(63)).max(50),
};

export const createApiProxySchema = z
  .strictObject({
    ...proxyFields,
    methods: proxyFields.methods.default([...HTTP_METHODS]),
    policies: proxyFields.policies.default([]),
    environments: proxyFields.environments.default([]),
    teamId: proxyFields.teamId.default(null),
    selfService: proxyFields.selfService.default('off'),
  })
  .meta({
    examples: [
      {
        name: 'orders',
        basePath: '/orders',
        upstreamUrl: 'https://orders.internal.example.com/v1',
        methods: ['GET', 'POST'],
        policies: [{ type: 'api-key', config: {} }],
        environments: ['production'],
      },
    ],
  });
export const updateApiProxySchema = z.strictObject(proxyFields).partial();

export type CreateApiProxy = z.infer<typeof createApiProxySchema>;
export type UpdateApiProxy = z.infer<typeof updateApiProxySchema>;

export const apiProxySchema = z.object({
  id: entityId,
  projectId: entityId,
  teamId: entityId.nullable(),
  name: z.string(),
  description: z.string().nullable(),
  basePath: z.string(),
  upstreamUrl: z.string(),
  methods: z.array(httpMethod),
  /** Each policy's config as its compiler completed it (defaults filled in). */
  policies: z.array(z.object({ type: z.string(), config: z.record(z.string(), z.unknown()) })),
  environments: z.array(z.string()),
  selfService: proxyFields.selfService,
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type ApiProxy = z.infer<typeof apiProxySchema>;
