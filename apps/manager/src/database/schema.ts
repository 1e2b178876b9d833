import { sql } from 'drizzle-orm';
import { boolean, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';

/**
 * The system of record. Change it only together with a new migration:
 * `npx -y pnpm@9 --filter @idm/manager db:generate` writes one from the difference.
 */
const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
};
const id = uuid('id').primaryKey().default(sql`gen_random_uuid()`);

export const operators = pgTable('operators', {
  id,
  username: text('username').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  ...timestamps,
});

export const operatorSessions = pgTable('operator_sessions', {
  /** SHA-256 of the bearer token; the token itself is never stored. */
  tokenHash: text('token_hash').primaryKey(),
  operatorId: uuid('operator_id').notNull().references(() => operators.id, { onDelete: 'cascade' }),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  createdAt: timestamps.createdAt,
});

export const environments = pgTable('environments', {
  id,
  name: text('name').notNull().unique(),
  description: text('description'),
  /** Last config revision published for this environment; only ever grows. */
  revision: integer('revision').notNull().default(0),
  ...timestamps,
});

export const projects = pgTable('projects', {
  id,
  name: text('name').notNull().unique(),
  description: text('description'),
  ...timestamps,
});

export const apiProxies = pgTable('api_proxies', {
  id,
  projectId: uuid('project_id').notNull().references(() => projects.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  description: text('description'),
  /** Unique across the installation so a base path means one thing in every environment. */
  basePath: text('base_path').notNull().unique(),
  upstreamUrl: text('upstream_url').notNull(),
  methods: text('methods').array().notNull(),
  policies: jsonb('policies').$type<{ type: string; config: Record<string, unknown> }[]>().notNull(),
  ...timestamps,
}, (t) => [unique('api_proxies_project_name_unique').on(t.projectId, t.name)]);

export const proxyDeployments = pgTable(
  'proxy_deployments',
  {
    proxyId: uuid('proxy_id').notNull().references(() => apiProxies.id, { onDelete: 'cascade' }),
    environmentId: uuid('environment_id').notNull().references(() => environments.id, { onDelete: 'restrict' }),
  },
  (t) => [primaryKey({ columns: [t.proxyId, t.environmentId] })],
);

export const credentials = pgTable('credentials', {
  id,
  projectId: uuid('project_id').notNull().references(() => projects.id, { onDelete: 'cascade' }),
  username: text('username').notNull(),
  passwordHash: text('password_hash'),
  enabled: boolean('enabled').notNull().default(true),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
  ...timestamps,
}, (t) => [unique('credentials_project_username_unique').on(t.projectId, t.username)]);

export const apiKeys = pgTable('api_keys', {
  id,
  credentialId: uuid('credential_id').notNull().references(() => credentials.id, { onDelete: 'cascade' }),
  prefix: text('prefix').notNull().unique(),
  /** SHA-256 hex of the whole key. */
  keyHash: text('key_hash').notNull().unique(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
  createdAt: timestamps.createdAt,
});
