import { Injectable } from '@nestjs/common';
import { hashApiKey, importCredentialSchema, MAX_CREDENTIAL_IMPORT, SecretBox, API_KEY_PREFIX_LENGTH, type ImportCredential, type ImportedCredentials } from '@idm/domain';
import { ChangeWriter, type ChangeRecord } from '../audit/change-writer';
import type { Tx } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { ProblemError, type FieldIssue } from '../problems/problem.error';
import { CredentialRepository, type ImportedCredentialRow } from '../repositories/credential.repository';
import { TeamRepository } from '../repositories/team.repository';
import { sealMetadata } from './credential-metadata';

/** Conflicts named in a 409: enough to fix the input, not a megabyte of problem document. */
const MAX_NAMED_CONFLICTS = 100;

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
    private readonly credentials: CredentialRepository,
    private readonly teams: TeamRepository,
  ) {}

  async import(projectId: string, raw: unknown[]): Promise<ImportedCredentials> {
    const entries = parseImport(raw);
    return this.changes.write((tx) => this.insert(tx, projectId, entries));
  }

  /** Writes the entries in `tx` (APIops calls this inside its batch); the caller hands the change to ChangeWriter. */
  async insert(tx: Tx, projectId: string, entries: ImportCredential[]): Promise<{ result: ImportedCredentials; change: ChangeRecord }> {
    for (const teamId of new Set(entries.map((e) => e.teamId))) this.permissions.check('credential:write', { projectId, teamId });
    await requireProject(tx, projectId);
    await this.requireTeams(tx, projectId, entries);
    await this.requireNoConflicts(tx, projectId, entries);
    const now = new Date();
    const rows = entries.map((e): ImportedCredentialRow => ({
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
    const ids = await this.credentials.insertImported(tx, projectId, rows, now);
    const keys = entries.flatMap((e) => e.apiKeys.map((key) => ({ credential_id: ids.get(e.username)!, prefix: key.slice(0, API_KEY_PREFIX_LENGTH), key_hash: hashApiKey(key) })));
    await this.credentials.insertImportedKeys(tx, keys, now);
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

  private async requireTeams(tx: Tx, projectId: string, entries: ImportCredential[]): Promise<void> {
    const found = await this.teams.idsInProject(tx, projectId, [...new Set(entries.flatMap((e) => (e.teamId ? [e.teamId] : [])))]);
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
  private async requireNoConflicts(tx: Tx, projectId: string, entries: ImportCredential[]): Promise<void> {
    const usernames = entries.map((e) => e.username);
    const keys = entries.flatMap((e, i) => e.apiKeys.map((key, k) => ({ path: `credentials.${i}.apiKeys.${k}`, prefix: key.slice(0, API_KEY_PREFIX_LENGTH) })));
    const takenUsernames = await this.credentials.takenUsernames(tx, projectId, usernames);
    // A key's prefix is unique on its own, so a taken prefix covers a taken key too.
    const takenPrefixes = await this.credentials.takenKeyPrefixes(
      tx,
      keys.map((k) => k.prefix),
    );
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
}
