import { ProblemError } from './problem.error';

/** Unique constraints people can hit, as the conflict a client should see. */
const UNIQUE_CONSTRAINTS: Record<string, { code: string; path: string; detail: string }> = {
  environments_name_unique: { code: 'name_taken', path: 'name', detail: 'an environment with this name already exists' },
  projects_name_unique: { code: 'name_taken', path: 'name', detail: 'a project with this name already exists' },
  api_proxies_project_name_unique: { code: 'name_taken', path: 'name', detail: 'a proxy with this name already exists in the project' },
  api_proxies_base_path_unique: { code: 'base_path_taken', path: 'basePath', detail: 'another proxy already uses this base path' },
  project_secrets_project_name_unique: { code: 'name_taken', path: 'name', detail: 'a secret with this name already exists in the project' },
  credentials_project_end_user_email_unique: { code: 'email_taken', path: 'email', detail: 'an end user with this email already exists in the project' },
  credentials_project_username_unique: { code: 'username_taken', path: 'username', detail: 'a credential with this username already exists in the project' },
  identity_sources_name_unique: { code: 'identity_source_name_taken', path: 'name', detail: 'an identity source with this name already exists' },
  key_managers_name_unique: { code: 'key_manager_name_taken', path: 'name', detail: 'a key manager with this name already exists' },
  key_managers_issuer_unique: { code: 'key_manager_issuer_taken', path: 'issuer', detail: 'a key manager for this issuer already exists' },
};

/** Drizzle wraps driver errors; both pg and PGlite put the SQLSTATE in `code`. */
function driverError(err: unknown): { code?: string; constraint?: string; detail?: string } | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e as never;
    e = e.cause as never;
  }
  return undefined;
}

/** Maps constraint violations to 409s; anything else is left for the caller to treat as a 500. */
export function problemFromDatabaseError(err: unknown): ProblemError | undefined {
  const db = driverError(err);
  if (!db) return undefined;
  if (db.code === '23505') {
    const known = db.constraint ? UNIQUE_CONSTRAINTS[db.constraint] : undefined;
    return known ? ProblemError.conflict(known.code, known.detail, known.path) : ProblemError.conflict('duplicate', 'the value is already taken');
  }
  if (db.code === '23503') return ProblemError.conflict('still_referenced', 'the entity is still referenced by another one');
  // 22021/22P05: a character the database cannot store (NUL); the validation layer refuses NUL
  // first, this keeps any path it misses a 400 too.
  if (db.code === '22P02' || db.code === '22007' || db.code === '22008' || db.code === '22021' || db.code === '22P05') {
    return new ProblemError(400, 'invalid_value', 'Invalid value', 'a value has the wrong format');
  }
  return undefined;
}
