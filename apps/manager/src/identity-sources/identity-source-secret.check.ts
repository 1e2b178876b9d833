import type { IdentitySourceConfig, IdentitySourceType, OidcSourceConfig } from '@idm/domain';
import { Injectable } from '@nestjs/common';
import type { Reads } from '../database/database';
import { ProblemError } from '../problems/problem.error';
import { ProjectSecretRepository } from '../repositories/project-secret.repository';

/**
 * Which project secret an `oidc` identity source may take its client secret from
 * (config.clientSecretId): an existing `shared-secret` of the source's own project. A System
 * source serves every project, so no one project's secret may feed it (its own sealed `secret`
 * instead). Checked on save: a typo or another project's id is a 422 at once, not sign-ins that
 * fail at the Gateway.
 */
@Injectable()
export class IdentitySourceSecretCheck {
  constructor(private readonly secrets: ProjectSecretRepository) {}

  async require(db: Reads, type: IdentitySourceType, projectId: string | null, config: IdentitySourceConfig, hasOwnSecret: boolean): Promise<void> {
    if (type !== 'oidc') return;
    const secretId = (config as OidcSourceConfig).clientSecretId;
    if (secretId === undefined) return;
    if (hasOwnSecret) throw refused('give either secret or config.clientSecretId, not both');
    if (projectId === null) throw refused(`a System identity source cannot use project secret ${secretId}; give secret instead`);
    const [secret] = await this.secrets.ofProject(projectId, [secretId], db);
    // One answer for "does not exist" and "of another project": nothing about other projects leaks.
    if (secret === undefined) throw refused(`no secret ${secretId} in this project`);
    if (secret.kind !== 'shared-secret') throw refused(`secret ${secret.name} is a ${secret.kind}; a client secret needs a shared-secret`);
  }
}

const refused = (message: string) =>
  new ProblemError(422, 'secret_not_usable', 'The project secret named by the identity source cannot be used here', message, [{ path: 'config.clientSecretId', message }]);
