import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import {
  createIdentitySourceSchema,
  identitySourceSchema,
  identitySourceSyncReportSchema,
  identitySourceTestResultSchema,
  identitySourceTestSchema,
  samlMetadataImportSchema,
  updateIdentitySourceSchema,
  type CreateIdentitySource,
  type IdentitySourceTest,
  type SamlMetadataImport,
  type UpdateIdentitySource,
} from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { IdentitySourceTester } from './identity-source-tester';
import { IdentitySourcesService } from './identity-sources.service';
import { IdentitySourceSyncService } from './source-sync.service';

@Controller('api/v1/identity-sources')
export class IdentitySourcesController {
  constructor(
    private readonly sources: IdentitySourcesService,
    private readonly tester: IdentitySourceTester,
    private readonly sync: IdentitySourceSyncService,
  ) {}

  @Get()
  @Contract({
    summary: 'List identity sources (LDAP, SQL, REST, external OIDC IdPs): System ones and those of projects the caller may read',
    response: z.array(identitySourceSchema),
  })
  list() {
    return this.sources.list();
  }

  @Post()
  @Contract({
    summary:
      "Create an identity source: ldap, sql or rest check end users' passwords at the Gateways, oidc is an external OpenID Provider users sign in with from the login page (System scope without projectId; the secret is sealed)",
    body: createIdentitySourceSchema,
    status: 201,
    response: identitySourceSchema,
  })
  create(@ContractBody() body: CreateIdentitySource) {
    return this.sources.create(body);
  }

  @Get(':identitySourceId')
  @Contract({ summary: 'Get an identity source (the secret only as set or not)', response: identitySourceSchema })
  get(@Param('identitySourceId', IdPipe) id: string) {
    return this.sources.get(id);
  }

  @Patch(':identitySourceId')
  @Contract({
    summary: 'Update an identity source (a config replaces the old one whole; secret null removes it)',
    body: updateIdentitySourceSchema,
    response: identitySourceSchema,
  })
  update(@Param('identitySourceId', IdPipe) id: string, @ContractBody() body: UpdateIdentitySource) {
    return this.sources.update(id, body);
  }

  @Post(':identitySourceId/saml-metadata')
  @Contract({
    summary:
      'Import the IdP’s SAML 2.0 metadata into a saml source: its entityID, SingleSignOnService (HTTP-Redirect) and signing certificates replace config.idpEntityId, ssoUrl and idpCertificates (the rest kept); audited as an update. Metadata with a DTD or entity, too large (saml_metadata_refused), not well-formed, without one IdP, an HTTP-Redirect SSO URL or a signing certificate (saml_metadata_invalid) is a 400 and changes nothing; 422 identity_source_not_saml for another type',
    body: samlMetadataImportSchema,
    status: 200,
    response: identitySourceSchema,
  })
  importSamlMetadata(@Param('identitySourceId', IdPipe) id: string, @ContractBody() body: SamlMetadataImport) {
    return this.sources.importSamlMetadata(id, body.metadataXml);
  }

  @Post(':identitySourceId/test')
  @Contract({
    summary:
      'Test an identity source from the Manager with the Gateways’ checker: without a body, that it answers (and refuses a random user); with username and password, a test login. Nothing is stored; the secret and password are never answered',
    body: identitySourceTestSchema,
    status: 200,
    readOnly: true,
    response: identitySourceTestResultSchema,
  })
  test(@Param('identitySourceId', IdPipe) id: string, @ContractBody() body: IdentitySourceTest) {
    return this.tester.test(id, body);
  }

  @Post(':identitySourceId/sync')
  @Contract({
    summary:
      'Sync an identity source now (LDAP search-bind or SQL with sync settings): every end user and operator it provisioned that the directory no longer knows is disabled (operators signed out, their bindings dropped); nobody is re-enabled. 503 with the source’s code when it cannot answer (nobody disabled), 409 sync_in_progress while another run holds it',
    status: 200,
    response: identitySourceSyncReportSchema,
  })
  syncNow(@Param('identitySourceId', IdPipe) id: string) {
    return this.sync.syncNow(id);
  }

  @Delete(':identitySourceId')
  @Contract({ summary: 'Delete an identity source (proxies naming it then answer source_misconfigured)', status: 204 })
  async remove(@Param('identitySourceId', IdPipe) id: string): Promise<void> {
    await this.sources.remove(id);
  }
}
