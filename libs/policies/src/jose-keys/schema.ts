import { z } from 'zod';
import { headerName } from '../schema-types';
import { isReservedForPolicies } from '../reserved-upstream-headers';

/*
 * Field types shared by the two JOSE policies (zod only: the Manager validates with them).
 */

export const JWS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'] as const;
export const JWE_KEY_ALGORITHMS = ['RSA-OAEP', 'RSA-OAEP-256', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW', 'A128KW', 'A192KW', 'A256KW', 'dir'] as const;
export const JWE_CONTENT_ENCRYPTIONS = ['A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512'] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

const uuid = z.uuid();

/** A project secret of the proxy's project (its versions: current signs/encrypts, all usable verify/decrypt). */
export const secretKeySourceSchema = z.strictObject({ source: z.literal('secret'), secretId: uuid });

/** A partner's JWKS fetched live by the Gateway (public keys: verify, encrypt). */
export const jwksKeySourceSchema = z.strictObject({
  source: z.literal('jwks'),
  url: z.url().refine((u) => u.startsWith('https://') || u.startsWith('http://'), 'must be an http(s) URL'),
  /** How long a fetched key set is used before it is fetched again. */
  cacheTtlSeconds: z.number().int().min(10).max(86_400).default(300),
  /** How many keys of the set are kept imported (least recently used go first); a larger set is refused. */
  cacheCapacity: z.number().int().min(1).max(1000).default(100),
  timeoutMs: z.number().int().min(100).max(30_000).default(3000),
  /** Further attempts after a failed fetch (network error or 5xx), 200 ms apart. */
  retries: z.number().int().min(0).max(3).default(1),
  /** mTLS to the endpoint: a certificate secret holding its private key. */
  clientCertificateSecretId: uuid.optional(),
  /** CAs the endpoint's TLS certificate must chain to (a trust-store secret); omitted: the system CAs. */
  trustStoreSecretId: uuid.optional(),
});

/** The verification key comes from the token's `x5c`, whose chain must end at the trust store. */
export const x5cKeySourceSchema = z.strictObject({ source: z.literal('x5c'), trustStoreSecretId: uuid });

export const keySourceSchema = z.discriminatedUnion('source', [secretKeySourceSchema, jwksKeySourceSchema]);
export type KeySourceConfig = z.output<typeof keySourceSchema>;
export type JwksKeySourceConfig = z.output<typeof jwksKeySourceSchema>;

/** A request variable name (set by one policy, read by a later one as `${var.<name>}`). */
export const variableName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$/, 'must be a variable name (letters, digits, "_", ".", "-")');

/** A header a JOSE policy writes for the upstream: never one the Gateway owns. */
export const writableHeaderName = headerName.refine((h) => !isReservedForPolicies(h), 'is a header the Gateway sets or strips itself');

/** Where a JOSE policy reads its input: the body, a header, or a variable. */
export const payloadSourceSchema = z.discriminatedUnion('from', [
  z.strictObject({ from: z.literal('body') }),
  z.strictObject({
    from: z.literal('header'),
    name: headerName,
    scheme: z
      .string()
      .regex(/^[A-Za-z]{1,20}$/)
      .optional(),
  }),
  z.strictObject({ from: z.literal('variable'), name: variableName }),
]);
export type PayloadSource = z.output<typeof payloadSourceSchema>;

/** Where a JOSE policy writes its result. */
export const payloadTargetSchema = z.discriminatedUnion('to', [
  z.strictObject({ to: z.literal('body'), contentType: z.string().max(100).default('application/jose') }),
  z.strictObject({
    to: z.literal('header'),
    name: writableHeaderName,
    scheme: z
      .string()
      .regex(/^[A-Za-z]{1,20}$/)
      .optional(),
  }),
  z.strictObject({ to: z.literal('variable'), name: variableName }),
]);
export type PayloadTarget = z.output<typeof payloadTargetSchema>;

/**
 * A text with request values: `${header.<name>}`, `${query.<name>}`, `${var.<name>}`,
 * `${identity.username|credentialId|projectId}`, `${request.method|path}`, `${client.ip}`.
 */
export const requestTemplate = z
  .string()
  .max(1000)
  .refine(
    (t) =>
      [...t.matchAll(/\$\{([^}]*)\}/g)].every((m) =>
        /^(header|query|var)\.[A-Za-z0-9_.-]{1,64}$|^identity\.(username|credentialId|projectId)$|^request\.(method|path)$|^client\.ip$/.test(m[1]),
      ),
    {
      message: 'unknown variable: use ${header.x}, ${query.x}, ${var.x}, ${identity.username|credentialId|projectId}, ${request.method|path} or ${client.ip}',
    },
  );
