import { Injectable } from '@nestjs/common';
import type { PolicySpec } from '@idm/domain';
import { secretIdsIn } from '@idm/policies/schemas';
import type { Reads } from '../database/database';
import { ProblemError } from '../problems/problem.error';
import { ProjectSecretRepository } from '../repositories/project-secret.repository';

/**
 * Which project secrets a proxy's policies may name: existing secrets of the proxy's own project.
 * Checked when the policies are saved, so a typo or another project's id is a 422 at once rather
 * than a proxy the Gateway cannot compile (it would answer 503 until someone noticed).
 */
@Injectable()
export class SecretUseCheck {
  constructor(private readonly secrets: ProjectSecretRepository) {}

  async require(db: Reads, projectId: string, policies: readonly PolicySpec[]): Promise<void> {
    const named = secretIdsIn(policies);
    if (named.length === 0) return;
    const found = new Set((await this.secrets.ofProject(projectId, named, db)).map((s) => s.id));
    const missing = named.filter((id) => !found.has(id));
    if (missing.length === 0) return;
    // One answer for "does not exist" and "of another project": nothing about other projects leaks.
    const issues = missing.map((id) => ({ path: `policies.${pathOf(policies, id)}`, message: `no secret ${id} in this project` }));
    throw new ProblemError(422, 'secret_not_usable', 'A project secret named by the policies cannot be used here', issues.map((i) => i.message).join('; '), issues);
  }
}

/** Where in the policy list an id occurs (`<index>.config...<key>`), for the problem's field path. */
function pathOf(policies: readonly PolicySpec[], id: string): string {
  const find = (value: unknown, path: string): string | null => {
    if (value === id) return path;
    if (!value || typeof value !== 'object') return null;
    for (const [key, inner] of Object.entries(value)) {
      const hit = find(inner, `${path}.${key}`);
      if (hit !== null) return hit;
    }
    return null;
  };
  for (const [i, p] of policies.entries()) {
    const hit = find(p.config, `${i}.config`);
    if (hit !== null) return hit;
  }
  return '';
}
