import { Injectable } from '@nestjs/common';
import { oidcClientSettingsSchema, type ListOidcClientsQuery, type OidcClientSummary } from '@idm/domain';
import { Database } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { CredentialRepository } from '../repositories/credential.repository';

/**
 * A project's OIDC clients: the credentials whose token settings make them relying parties of the
 * Gateway's OpenID Provider, as many as the reader may see (`credential:read`, project or team).
 * Their settings are edited through the credential's token settings; this is the list to start from.
 */
@Injectable()
export class OidcClientsService {
  constructor(
    private readonly database: Database,
    private readonly credentials: CredentialRepository,
    private readonly permissions: PermissionService,
  ) {}

  async list(projectId: string, query: ListOidcClientsQuery): Promise<OidcClientSummary[]> {
    const visible = this.credentials.readableIn(this.permissions.readFilter('credential:read'), projectId);
    if (!visible) this.permissions.check('credential:read', { projectId });
    await requireProject(this.database.db, projectId);
    const rows = await this.credentials.oidcClientPage(visible!, query.after, query.limit);
    return rows.map(({ credential, settings }) => {
      const oidc = oidcClientSettingsSchema.parse(settings.oidc);
      return {
        credentialId: credential.id,
        username: credential.username,
        enabled: credential.enabled,
        clientType: oidc.clientType,
        redirectUris: oidc.redirectUris,
        consentRequired: oidc.consentRequired,
      };
    });
  }
}
