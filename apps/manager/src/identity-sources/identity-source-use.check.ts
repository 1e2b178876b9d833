import { Injectable } from '@nestjs/common';
import type { PolicySpec } from '@idm/domain';
import type { Reads } from '../database/database';
import { ProblemError } from '../problems/problem.error';
import { IdentitySourceRepository } from '../repositories/identity-source.repository';

/**
 * Which identity sources a proxy may name (`identitySources` of basic-auth): existing ones,
 * System-wide or of the proxy's project. Checked when a proxy's policies are saved, so a
 * Gateway never compiles a chain naming a source it cannot use.
 */
@Injectable()
export class IdentitySourceUseCheck {
  constructor(private readonly sources: IdentitySourceRepository) {}

  async require(db: Reads, projectId: string, policies: readonly PolicySpec[]): Promise<void> {
    const named = policies.flatMap((p, i) => {
      const names = (p.config as { identitySources?: unknown }).identitySources;
      return Array.isArray(names) ? names.map((name) => ({ name: String(name), path: `policies.${i}.config.identitySources` })) : [];
    });
    // A policy's sources check passwords (basic-auth): an external IdP checks none.
    await this.requireNamed(db, projectId, named, true);
  }

  /** The same rule for any list of names (a client's token settings name the sources of its password grant and login page). */
  async requireNamed(db: Reads, projectId: string, named: readonly { name: string; path: string }[], passwordsOnly = false): Promise<void> {
    if (named.length === 0) return;
    const rows = new Map((await this.sources.findByNames([...new Set(named.map((n) => n.name))], db)).map((r) => [r.name, r]));
    const issues = named.flatMap(({ name, path }) => {
      const row = rows.get(name);
      if (row === undefined) return [{ path, message: `no identity source ${name}` }];
      if (row.projectId !== null && row.projectId !== projectId) return [{ path, message: `identity source ${name} belongs to another project` }];
      if (passwordsOnly && row.type === 'oidc') return [{ path, message: `identity source ${name} is an external OpenID Provider: it checks no password` }];
      if (passwordsOnly && row.type === 'saml') return [{ path, message: `identity source ${name} is a SAML IdP: it checks no password` }];
      return [];
    });
    if (issues.length > 0)
      throw new ProblemError(422, 'identity_source_not_usable', 'An identity source named here cannot be used', issues.map((p) => p.message).join('; '), issues);
  }
}
