import { Injectable } from '@nestjs/common';
import type { StoredSecretVersion } from '@idm/config-bus';
import { hmacMinKeyBytes, SecretBox, type CreateProjectSecret, type ProjectSecret, type RotateProjectSecret, type UpdateProjectSecret } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { Database, type Reads } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { requireProject, requireTeamInProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { ProjectSecretRepository, type ProjectSecretRow } from '../repositories/project-secret.repository';
import { readSecretMaterial, type SuppliedMaterial } from './secret-material';

/** Versions still usable at `now`: the current one and those whose overlap has not ended. */
const usable = (versions: StoredSecretVersion[], now: Date) => versions.filter((v) => v.retiresAt === null || new Date(v.retiresAt) > now);

/** The API's view: public parts only, never the sealed material. */
export function toProjectSecret(row: ProjectSecretRow): ProjectSecret {
  const versions = row.versions.map(({ sealed, ...rest }) => ({ ...rest, hasSecretMaterial: sealed !== null }));
  return {
    id: row.id,
    projectId: row.projectId,
    teamId: row.teamId,
    name: row.name,
    description: row.description,
    kind: row.kind,
    currentVersion: row.versions[row.versions.length - 1].version,
    versions,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/**
 * Project secrets: read and sealed on the way in, public parts on the way out. A rotation adds a
 * version and gives the replaced one a deadline; every write drops versions past theirs. A change
 * names the proxies whose policies refer to the secret, so exactly those are republished.
 */
@Injectable()
export class ProjectSecretsService {
  constructor(
    private readonly database: Database,
    private readonly repository: ProjectSecretRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
  ) {}

  async list(projectId: string): Promise<ProjectSecret[]> {
    const filter = this.permissions.readFilter('secret:read');
    const whole = filter.all || filter.projectIds.includes(projectId);
    const teamIds = filter.teams.filter((t) => t.projectId === projectId).map((t) => t.id);
    if (!whole && teamIds.length === 0) this.permissions.check('secret:read', { projectId });
    await requireProject(this.database.db, projectId);
    return (await this.repository.list(projectId, whole ? 'all' : teamIds)).map(toProjectSecret);
  }

  async get(projectId: string, id: string): Promise<ProjectSecret> {
    const row = await this.find(projectId, id);
    this.permissions.check('secret:read', row);
    return toProjectSecret(row);
  }

  async create(projectId: string, input: CreateProjectSecret): Promise<ProjectSecret> {
    this.permissions.check('secret:write', { projectId, teamId: input.teamId ?? null });
    const first = await this.version(input.kind, input, 1, new Date());
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      await requireTeamInProject(tx, projectId, input.teamId);
      const row = await this.repository.insert(tx, {
        projectId,
        teamId: input.teamId ?? null,
        name: input.name,
        description: input.description ?? null,
        kind: input.kind,
        versions: [first],
      });
      return {
        result: toProjectSecret(row),
        change: { action: 'create', entityKind: 'project_secret', entityId: row.id, projectId, teamId: row.teamId, before: null, after: row },
      };
    });
  }

  async update(projectId: string, id: string, input: UpdateProjectSecret): Promise<ProjectSecret> {
    return this.changes.write(async (tx) => {
      const before = await this.find(projectId, id, tx, true);
      this.permissions.check('secret:write', before);
      const row = await this.repository.update(tx, id, { ...input, updatedAt: new Date() });
      return { result: toProjectSecret(row), change: { action: 'update', entityKind: 'project_secret', entityId: id, projectId, teamId: row.teamId, before, after: row } };
    });
  }

  /** Adds a version; the one it replaces stays usable for `overlapSeconds`. */
  async rotate(projectId: string, id: string, input: RotateProjectSecret): Promise<ProjectSecret> {
    const current = await this.find(projectId, id);
    this.permissions.check('secret:write', current);
    const now = new Date();
    const next = await this.version(current.kind, input, current.versions[current.versions.length - 1].version + 1, now);
    return this.changes.write(async (tx) => {
      const before = await this.find(projectId, id, tx, true);
      const retiresAt = new Date(now.getTime() + input.overlapSeconds * 1000).toISOString();
      const kept = usable(before.versions, now).map((v) => (v.retiresAt === null ? { ...v, retiresAt } : v));
      if (kept.some((v) => v.kid === next.kid)) throw ProblemError.conflict('secret_kid_in_use', `kid '${next.kid}' is already used by a version still usable`, 'kid');
      await this.requireLongEnoughForHmac(tx, projectId, id, next);
      const row = await this.repository.update(tx, id, { versions: [...usable(kept, now), next], updatedAt: now });
      const proxies = await this.repository.referencingProxies(tx, projectId, id);
      return {
        result: toProjectSecret(row),
        change: { action: 'rotate', entityKind: 'project_secret', entityId: id, entityIds: proxies, projectId, teamId: row.teamId, before, after: row },
      };
    });
  }

  /** Refused while a proxy's policies, a key manager or an oidc identity source refer to the secret (they would stop working). */
  async remove(projectId: string, id: string): Promise<void> {
    await this.changes.write(async (tx) => {
      const before = await this.find(projectId, id, tx, true);
      this.permissions.check('secret:write', before);
      const proxies = await this.repository.referencingProxies(tx, projectId, id);
      if (proxies.length > 0) throw ProblemError.conflict('secret_in_use', `the policies of ${proxies.length} proxy(ies) refer to this secret: ${proxies.join(', ')}`);
      const keyManagers = await this.repository.referencingKeyManagers(tx, projectId, id);
      if (keyManagers.length > 0) throw ProblemError.conflict('secret_in_use', `key manager(s) ${keyManagers.join(', ')} take their client secret or HS key from this secret`);
      const sources = await this.repository.referencingIdentitySources(tx, projectId, id);
      if (sources.length > 0) throw ProblemError.conflict('secret_in_use', `identity source(s) ${sources.join(', ')} take their client secret from this secret`);
      await this.repository.delete(tx, id);
      return { result: undefined, change: { action: 'delete', entityKind: 'project_secret', entityId: id, projectId, teamId: before.teamId, before, after: null } };
    });
  }

  /**
   * A key manager verifying HS* with this secret would stop accepting every token once the overlap
   * ends if the new version were shorter than its hash (RFC 7518 §3.2: the Gateway ignores such a
   * key): refused at rotation, as the key manager's own save refuses it.
   */
  private async requireLongEnoughForHmac(tx: Reads, projectId: string, id: string, next: StoredSecretVersion): Promise<void> {
    if (next.sealed === null) return;
    const users = await this.repository.hmacUsers(tx, projectId, id);
    const minBytes = hmacMinKeyBytes(users.flatMap((u) => u.algorithms));
    if (minBytes === 0) return;
    const { k } = JSON.parse(this.secrets.open(next.sealed)) as { k?: string };
    if (Buffer.from(k ?? '', 'base64url').length >= minBytes) return;
    const message = `key manager(s) ${users.map((u) => u.name).join(', ')} verify ${[...new Set(users.flatMap((u) => u.algorithms))].filter((a) => a.startsWith('HS')).join(', ')} with this secret: the new version needs at least ${minBytes} bytes (RFC 7518 §3.2)`;
    throw new ProblemError(422, 'secret_too_short', 'The new version is too short for the key managers using this secret', message, [{ path: 'material', message }]);
  }

  /** Reads and seals supplied material (before any transaction: parsing keys is CPU work). */
  private async version(kind: ProjectSecretRow['kind'], supplied: SuppliedMaterial, version: number, now: Date): Promise<StoredSecretVersion> {
    if (supplied.privateKey !== undefined && kind !== 'certificate')
      throw ProblemError.validation([{ path: 'privateKey', message: 'only a certificate takes a separate private key' }]);
    const { secretJwk, ...material } = await readSecretMaterial(kind, supplied);
    return { version, ...material, sealed: secretJwk === null ? null : this.secrets.seal(JSON.stringify(secretJwk)), createdAt: now.toISOString(), retiresAt: null };
  }

  private async find(projectId: string, id: string, db?: Reads, lock = false): Promise<ProjectSecretRow> {
    const row = await this.repository.find(projectId, id, db, lock);
    if (!row) {
      this.permissions.check('secret:read', { projectId });
      throw ProblemError.notFound('secret', id);
    }
    return row;
  }
}
