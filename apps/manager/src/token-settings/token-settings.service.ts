import { Injectable } from '@nestjs/common';
import { tokenSettingsSchema, type TokenSettings } from '@idm/domain';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { ChangeWriter } from '../audit/change-writer';
import type { Reads } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { IdentitySourceUseCheck } from '../identity-sources/identity-source-use.check';
import { KeyManagerUseCheck } from '../key-managers/key-manager-use.check';
import { CredentialRepository } from '../repositories/credential.repository';

/** Token service settings of one credential; absent = the credential cannot get tokens. */
@Injectable()
export class TokenSettingsService {
  constructor(
    private readonly credentials: CredentialRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly identitySources: IdentitySourceUseCheck,
    private readonly upstreams: UpstreamPolicyCheck,
    private readonly keyManagers: KeyManagerUseCheck,
  ) {}

  async get(projectId: string, credentialId: string): Promise<TokenSettings | null> {
    const credential = await this.credential(projectId, credentialId);
    this.permissions.check('credential:read', credential);
    const row = await this.credentials.findTokenSettings(credentialId);
    return row ? tokenSettingsSchema.parse(row.settings) : null;
  }

  async put(projectId: string, credentialId: string, settings: TokenSettings): Promise<TokenSettings> {
    // The Gateways fetch a client's jwksUri: held to the upstream address policy as key managers'
    // and identity sources' servers are (422 upstream_forbidden). Before the transaction: DNS can be slow.
    const jwksUri = settings.oidc?.jwksUri;
    if (jwksUri) {
      // Read where an APIops batch's new credential is visible (its transaction), else the database.
      await this.credential(projectId, credentialId, this.changes.reads()).then((c) => this.permissions.check('credential:write', c));
      await this.upstreams.require(jwksUri, 'oidc.jwksUri');
    }
    return this.changes.write(async (tx) => {
      const credential = await this.credential(projectId, credentialId, tx);
      this.permissions.check('credential:write', credential);
      await this.identitySources.requireNamed(
        tx,
        projectId,
        (settings.identitySources ?? []).map((name, i) => ({ name, path: `identitySources.${i}` })),
      );
      // The JWT bearer grant's trusted issuers: the Gateway would ignore a name it cannot resolve, so refuse it here (422 key_manager_not_usable).
      // On the list, not the item: the console's picker shows the list's errors (the message names the key manager).
      await this.keyManagers.requireNamed(
        tx,
        projectId,
        (settings.jwtBearer?.keyManagers ?? []).map((name) => ({ name, path: 'jwtBearer.keyManagers' })),
      );
      const before = await this.credentials.findTokenSettings(credentialId, tx, true);
      await this.credentials.putTokenSettings(tx, credentialId, settings);
      return {
        result: settings,
        change: {
          // A PUT that gives a credential its first token settings creates them: the audit trail says so.
          action: before ? 'update' : 'create',
          entityKind: 'credential_token_settings',
          entityId: credentialId,
          projectId,
          teamId: credential.teamId,
          before: before?.settings ?? null,
          after: settings,
        },
      };
    });
  }

  remove(projectId: string, credentialId: string): Promise<void> {
    return this.changes.write(async (tx) => {
      const credential = await this.credential(projectId, credentialId, tx);
      this.permissions.check('credential:write', credential);
      const before = await this.credentials.deleteTokenSettings(tx, credentialId);
      if (!before) throw ProblemError.notFound('token_settings', credentialId);
      return {
        result: undefined,
        change: { action: 'delete', entityKind: 'credential_token_settings', entityId: credentialId, projectId, teamId: credential.teamId, before: before.settings, after: null },
      };
    });
  }

  private async credential(projectId: string, id: string, db?: Reads) {
    const row = await this.credentials.find(projectId, id, db);
    if (!row) {
      this.permissions.check('credential:read', { projectId });
      throw ProblemError.notFound('credential', id);
    }
    return row;
  }
}
