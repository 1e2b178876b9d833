import { Injectable } from '@nestjs/common';
import { hashApiKey, importCredentialSchema, MAX_CREDENTIAL_IMPORT, SecretBox, API_KEY_PREFIX_LENGTH, type ImportCredential, type ImportedCredentials } from '@idm/domain';
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { ChangeWriter, type ChangeRecord } from '../audit/change-writer';
import type { Tx } from '../database/database';
import { apiKeys, credentials, teams } from '../database/schema';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { ProblemError, type FieldIssue } from '../problems/problem.error';
import { sealMetadata } from './credential-metadata';

/** Conflicts named in a 409: enough to fix the input, not a megabyte of problem document. */
const MAX_NAMED_CONFLICTS = 100;

/**
 * A whole list as ONE bind parameter (a JSON array the statement unpacks): a 10,000-row insert
 * or lookup costs a few parameters, not 160,000, so PostgreSQL's 65,535-parameter limit never
 * applies and drizzle does not build a statement parameter by parameter (that alone took seconds
 * per 10,000 rows). Works the same on PostgreSQL and PGlite (a text parameter, no array types).
 */
const jsonParam = (value: unknown): SQL => sql`${JSON.stringify(value)}::jsonb`;
// Both drivers (node-postgres, PGlite) answer `tx.execute` with `{ rows }`; the Tx type leaves it unknown.
/**
 * The values of a lookup that exist. Written as a join from the given list (one index probe per
 * value): `column IN (SELECT jsonb_array_elements_text(...))` was planned as a subplan rescanned
 * per row, 20 s for 10,000 names against a project of 50,000.
 */
async function existing(tx: Tx, query: SQL): Promise<Set<string>> {
  const { rows } = (await tx.execute(query)) as unknown as { rows: { value: string }[] };
  return new Set(rows.map((r) => r.value));
}

/** Parses an import request's entries: 413 over the limit, 400 for plaintext passwords or invalid entries. */
export function parseImport(raw: unknown[]): ImportCredential[] {
  if (raw.length > MAX_CREDENTIAL_IMPORT) {
    throw new ProblemError(413, 'import_too_large', 'Too many credentials', `${raw.length} credentials given, at most ${MAX_CREDENTIAL_IMPORT} per request: split the import`);
  }
  if (raw.length === 0) throw ProblemError.validation([{ path: 'credentials', message: 'give at least one credential' }]);
  const plaintext = raw.flatMap((entry, i) => (entry && typeof entry === 'object' && 'password' in entry ? [i] : []));
  if (plaintext.length) {
    throw new ProblemError(
      400,
      'plaintext_password_refused',
      'Plaintext passwords are not imported',
      'give the password as an argon2id PHC hash in passwordHash, or create the credential with POST /credentials (which hashes it)',
      plaintext.slice(0, MAX_NAMED_CONFLICTS).map((i) => ({ path: `credentials.${i}.password`, message: 'plaintext password refused' })),
    );
  }
  const issues: FieldIssue[] = [];
  const entries = raw.map((entry, i) => {
    const parsed = importCredentialSchema.safeParse(entry);
    if (!parsed.success) issues.push(...parsed.error.issues.map((issue) => ({ path: ['credentials', i, ...issue.path].join('.'), message: issue.message })));
    return parsed.data!;
  });
  if (issues.length) throw ProblemError.validation(issues.slice(0, MAX_NAMED_CONFLICTS));
  return entries;
}

/**
 * Bulk import of credentials: one transaction, one INSERT per table, one audit event
 * (`credential.import`, the usernames, no secrets). API keys are stored as SHA-256 like issued
 * ones; password hashes are taken over as they are (re-hashing a million passwords with argon2 is
 * what this path exists to avoid), so imported credentials have no Digest HA1 until their
 * password is set again. Conflicts are found before anything is written and named in the 409.
 */
@Injectable()
export class CredentialImportService {
  constructor(
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
  ) {}

  async import(projectId: string, raw: unknown[]): Promise<ImportedCredentials> {
    const entries = parseImport(raw);
    return this.changes.write((tx) => this.insert(tx, projectId, entries));
  }

  /** Writes the entries in `tx` (APIops calls this inside its batch); the caller hands the change to ChangeWriter. */
  async insert(tx: Tx, projectId: string, entries: ImportCredential[]): Promise<{ result: ImportedCredentials; change: ChangeRecord }> {
    for (const teamId of new Set(entries.map((e) => e.teamId))) this.permissions.check('credential:write', { projectId, teamId });
    await requireProject(tx, projectId);
    await requireTeams(tx, projectId, entries);
    await requireNoConflicts(tx, projectId, entries);
    const now = new Date();
    const rows = entries.map((e) => ({
      team_id: e.teamId,
      username: e.username,
      password_hash: e.passwordHash ?? null,
      enabled: e.enabled,
      expires_at: e.expiresAt ?? null,
      email: e.email,
      full_name: e.fullName,
      description: e.description,
      roles: e.roles,
      metadata: sealMetadata(this.secrets, e.metadata),
      access: e.access,
    }));
    const inserted = (await tx.execute(sql`
      INSERT INTO ${credentials} (project_id, team_id, username, password_hash, enabled, expires_at, email, full_name, description, roles, metadata, access, created_at, updated_at)
      SELECT ${projectId}::uuid, r.team_id, r.username, r.password_hash, r.enabled, r.expires_at, r.email, r.full_name, r.description,
             ARRAY(SELECT jsonb_array_elements_text(r.roles)), r.metadata, r.access, ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
      FROM jsonb_to_recordset(${jsonParam(rows)}) AS r(team_id uuid, username text, password_hash text, enabled boolean, expires_at timestamptz, email text, full_name text, description text, roles jsonb, metadata jsonb, access jsonb)
      RETURNING id, username`)) as unknown as { rows: { id: string; username: string }[] };
    const ids = new Map(inserted.rows.map((row) => [row.username, row.id]));
    const keys = entries.flatMap((e) => e.apiKeys.map((key) => ({ credential_id: ids.get(e.username)!, prefix: key.slice(0, API_KEY_PREFIX_LENGTH), key_hash: hashApiKey(key) })));
    if (keys.length) {
      await tx.execute(sql`
        INSERT INTO ${apiKeys} (credential_id, prefix, key_hash, created_at)
        SELECT k.credential_id, k.prefix, k.key_hash, ${now.toISOString()}::timestamptz FROM jsonb_to_recordset(${jsonParam(keys)}) AS k(credential_id uuid, prefix text, key_hash text)`);
    }
    const usernames = entries.map((e) => e.username);
    const teamIds = new Set(entries.map((e) => e.teamId));
    return {
      result: { imported: entries.length, credentials: usernames.map((username) => ({ id: ids.get(username)!, username })) },
      change: {
        action: 'import',
        entityKind: 'credential',
        entityId: null,
        entityIds: [...ids.values()],
        projectId,
        teamId: teamIds.size === 1 ? [...teamIds][0] : null,
        before: null,
        after: { count: entries.length, usernames },
      },
    };
  }
}

async function requireTeams(tx: Pick<Tx, 'select'>, projectId: string, entries: ImportCredential[]): Promise<void> {
  const named = [...new Set(entries.flatMap((e) => (e.teamId ? [e.teamId] : [])))];
  if (!named.length) return;
  const found = new Set(
    (
      await tx
        .select({ id: teams.id })
        .from(teams)
        .where(and(eq(teams.projectId, projectId), inArray(teams.id, named)))
    ).map((t) => t.id),
  );
  const issues = entries.flatMap((e, i) =>
    e.teamId && !found.has(e.teamId) ? [{ path: `credentials.${i}.teamId`, message: `team '${e.teamId}' does not exist in this project` }] : [],
  );
  if (issues.length) throw ProblemError.validation(issues.slice(0, MAX_NAMED_CONFLICTS));
}

/**
 * Usernames taken in the project or repeated in the request, keys (or their public prefixes)
 * already stored or repeated: all named in one 409 before anything is written. The unique
 * constraints still stand behind this for a concurrent writer (its violation is a 409 too).
 */
async function requireNoConflicts(tx: Tx, projectId: string, entries: ImportCredential[]): Promise<void> {
  const usernames = entries.map((e) => e.username);
  const keys = entries.flatMap((e, i) => e.apiKeys.map((key, k) => ({ path: `credentials.${i}.apiKeys.${k}`, prefix: key.slice(0, API_KEY_PREFIX_LENGTH) })));
  const takenUsernames = await existing(
    tx,
    sql`SELECT c.username AS value FROM jsonb_array_elements_text(${jsonParam(usernames)}) AS wanted(value) JOIN ${credentials} c ON c.project_id = ${projectId} AND c.username = wanted.value`,
  );
  // A key's prefix is unique on its own, so a taken prefix covers a taken key too.
  const takenPrefixes = keys.length
    ? await existing(
        tx,
        sql`SELECT k.prefix AS value FROM jsonb_array_elements_text(${jsonParam(keys.map((k) => k.prefix))}) AS wanted(value) JOIN ${apiKeys} k ON k.prefix = wanted.value`,
      )
    : new Set<string>();
  const issues: FieldIssue[] = [];
  const seenUsernames = new Set<string>();
  entries.forEach((e, i) => {
    if (takenUsernames.has(e.username)) issues.push({ path: `credentials.${i}.username`, message: `username '${e.username}' already exists in this project` });
    else if (seenUsernames.has(e.username)) issues.push({ path: `credentials.${i}.username`, message: `username '${e.username}' is given more than once` });
    seenUsernames.add(e.username);
  });
  const seenPrefixes = new Set<string>();
  for (const key of keys) {
    if (takenPrefixes.has(key.prefix)) issues.push({ path: key.path, message: `an API key with prefix '${key.prefix}' already exists` });
    else if (seenPrefixes.has(key.prefix)) issues.push({ path: key.path, message: `an API key with prefix '${key.prefix}' is given more than once` });
    seenPrefixes.add(key.prefix);
  }
  if (issues.length) {
    throw new ProblemError(
      409,
      'import_conflict',
      'Conflict',
      `${issues.length} entr${issues.length === 1 ? 'y conflicts' : 'ies conflict'} with existing credentials or with each other; nothing was imported${issues.length > MAX_NAMED_CONFLICTS ? ` (the first ${MAX_NAMED_CONFLICTS} are named)` : ''}`,
      issues.slice(0, MAX_NAMED_CONFLICTS),
    );
  }
}
