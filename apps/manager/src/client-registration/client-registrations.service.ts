import { Injectable } from '@nestjs/common';
import type { ClientRegistrationReply, ClientRegistrationRequest } from '@idm/config-bus';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { ChangeWriter } from '../audit/change-writer';
import { PasswordHasher } from '../auth/password-hasher';
import type { Tx } from '../database/database';
import { ActorContext, systemActor, type Actor } from '../governance/actor.context';
import { ProblemError } from '../problems/problem.error';
import { ClientRegistrationRepository, type ClientRegistrationRow, type InitialAccessTokenRow } from '../repositories/client-registration.repository';
import { CredentialRepository, type CredentialRow } from '../repositories/credential.repository';
import { readClientMetadata, RegistrationRefusal, type RegisteredClient } from './client-metadata';
import { newClientSecret, newToken, sameHash, tokenHash } from './registration-tokens';

const auditRow = ({ digestHa1: _, ...c }: CredentialRow) => c;
const uuid = z.uuid();
const invalidToken = (description: string) => new RegistrationRefusal(401, 'invalid_token', description);
/** Switched off after the token was issued (or never on): the token is fine, registration is not offered (RFC 6750 §3.1 `insufficient_scope` would suggest another token helps). */
const switchedOff = () => new RegistrationRefusal(403, 'access_denied', 'dynamic client registration is not enabled for this project');

/** Who a registration is audited as: the registering client, through the initial access token it presented (source `dcr`). */
const registrant = (name: string): Actor => ({ ...systemActor(`dcr:${name}`), source: 'dcr' });

/**
 * RFC 7591 registration and RFC 7592 management of OIDC clients, asked by the Gateways over the
 * bus. A registered client is an ordinary credential of the initial access token's project with
 * OIDC token settings (listed by `GET /projects/{id}/oidc-clients`, published like any other);
 * beside it the registration keeps the SHA-256 of its registration access token and the metadata
 * it registered. Every refusal is an RFC 7591 §3.2.2 / RFC 6750 §3.1 error, never an exception.
 */
@Injectable()
export class ClientRegistrations {
  constructor(
    private readonly changes: ChangeWriter,
    private readonly rows: ClientRegistrationRepository,
    private readonly credentials: CredentialRepository,
    private readonly hasher: PasswordHasher,
    private readonly upstreams: UpstreamPolicyCheck,
  ) {}

  async handle(request: ClientRegistrationRequest): Promise<ClientRegistrationReply> {
    try {
      if (request.operation === 'register') return await this.register(request);
      const registration = await this.authorized(request);
      if (request.operation === 'read') return { status: 200, body: this.describe(request.endpoint, registration.row, registration.client) };
      if (request.operation === 'replace') return await this.replace(request, registration.row, registration.client);
      return await this.remove(registration.row, registration.client);
    } catch (err) {
      if (err instanceof RegistrationRefusal) return { status: err.status, body: { error: err.code, error_description: err.description } };
      throw err;
    }
  }

  private async register(request: ClientRegistrationRequest): Promise<ClientRegistrationReply> {
    if (request.token === null) throw invalidToken('an initial access token is required (Authorization: Bearer)');
    // The token before the metadata: a caller without one learns nothing about what would register.
    const token = await this.changes.write(async (tx) => ({ result: await this.usableToken(tx, request.token!), change: null }));
    const client = await this.validated(request.metadata ?? {});
    const secret = client.usesSecret ? newClientSecret() : null;
    const passwordHash = secret === null ? null : await this.hasher.hash(secret);
    const access = newToken('rat');
    const created = await ActorContext.run(registrant(token.prefix), () =>
      this.changes.write(async (tx) => {
        // Again under the row lock: two registrations racing for a single-use token, or a revocation meanwhile.
        const locked = await this.usableToken(tx, request.token!);
        if (locked.singleUse && !(await this.rows.spend(tx, locked.id, new Date()))) throw invalidToken('the initial access token was already used');
        const row = await this.credentials.insert(tx, {
          projectId: locked.projectId,
          teamId: null,
          username: `dcr-${randomBytes(9)
            .toString('base64url')
            .replace(/[^A-Za-z0-9]/g, 'x')}`,
          passwordHash,
          digestHa1: null,
          enabled: true,
          description: client.clientName === null ? 'Registered dynamically (RFC 7591)' : `${client.clientName} (registered dynamically, RFC 7591)`,
          roles: [],
        });
        await this.credentials.putTokenSettings(tx, row.id, client.settings);
        await this.rows.insertRegistration(tx, { credentialId: row.id, initialAccessTokenId: locked.id, accessTokenHash: access.hash, metadata: client.metadata });
        return {
          result: row,
          change: {
            action: 'create',
            entityKind: 'credential',
            entityId: row.id,
            projectId: row.projectId,
            teamId: null,
            before: null,
            after: { ...auditRow(row), tokenSettings: client.settings, registeredWith: locked.prefix },
          },
        };
      }),
    );
    const registration = { credentialId: created.id, metadata: client.metadata, createdAt: created.createdAt } as ClientRegistrationRow;
    return {
      status: 201,
      body: {
        ...this.describe(request.endpoint, registration, created),
        ...(secret !== null && { client_secret: secret }),
        registration_access_token: access.token,
      },
      published: { clientId: created.id, redirectUris: client.settings.oidc!.redirectUris },
    };
  }

  private async replace(request: ClientRegistrationRequest, registration: ClientRegistrationRow, before: CredentialRow): Promise<ClientRegistrationReply> {
    const { client_id: clientId, client_secret: presentedSecret, ...metadata } = request.metadata ?? {};
    // RFC 7592 §2.2: the request names the client, and may repeat (never choose) its secret.
    if (clientId !== before.id) throw new RegistrationRefusal(400, 'invalid_client_metadata', 'client_id must be present and name this client');
    if (presentedSecret !== undefined && (typeof presentedSecret !== 'string' || before.passwordHash === null || !(await this.hasher.verify(before.passwordHash, presentedSecret))))
      throw new RegistrationRefusal(400, 'invalid_client_metadata', 'client_secret does not match the issued secret (a client cannot choose its secret)');
    const client = await this.validated(metadata);
    // A client that starts using a secret gets one now; one that stops using it loses it.
    const secret = client.usesSecret && before.passwordHash === null ? newClientSecret() : null;
    const passwordHash = !client.usesSecret ? null : secret !== null ? await this.hasher.hash(secret) : before.passwordHash;
    const access = newToken('rat');
    const settingsBefore = await this.credentials.findTokenSettings(before.id);
    const updated = await ActorContext.run(registrant(before.username), () =>
      this.changes.write(async (tx) => {
        const current = await this.rows.registration(tx, before.id, true);
        if (!current || current.accessTokenHash !== registration.accessTokenHash) throw invalidToken('the registration access token was replaced meanwhile');
        const row = await this.credentials.update(tx, before.id, {
          passwordHash,
          description: client.clientName === null ? 'Registered dynamically (RFC 7591)' : `${client.clientName} (registered dynamically, RFC 7591)`,
          updatedAt: new Date(),
        });
        await this.credentials.putTokenSettings(tx, before.id, client.settings);
        await this.rows.updateRegistration(tx, before.id, access.hash, client.metadata);
        return {
          result: row,
          change: {
            action: 'update',
            entityKind: 'credential',
            entityId: row.id,
            projectId: row.projectId,
            teamId: row.teamId,
            before: { ...auditRow(before), tokenSettings: settingsBefore?.settings ?? null },
            after: { ...auditRow(row), tokenSettings: client.settings },
          },
        };
      }),
    );
    return {
      status: 200,
      body: {
        ...this.describe(request.endpoint, { ...registration, metadata: client.metadata }, updated),
        ...(secret !== null && { client_secret: secret }),
        registration_access_token: access.token,
      },
      published: { clientId: updated.id, redirectUris: client.settings.oidc!.redirectUris },
    };
  }

  private async remove(registration: ClientRegistrationRow, client: CredentialRow): Promise<ClientRegistrationReply> {
    await ActorContext.run(registrant(client.username), () =>
      this.changes.write(async (tx) => {
        const current = await this.rows.registration(tx, client.id, true);
        if (!current || current.accessTokenHash !== registration.accessTokenHash) throw invalidToken('the registration access token was replaced meanwhile');
        const settings = await this.credentials.findTokenSettings(client.id, tx);
        await this.credentials.delete(tx, client.id);
        return {
          result: undefined,
          change: {
            action: 'delete',
            entityKind: 'credential',
            entityId: client.id,
            projectId: client.projectId,
            teamId: client.teamId,
            before: { ...auditRow(client), tokenSettings: settings?.settings ?? null },
            after: null,
          },
        };
      }),
    );
    return { status: 204, body: null, published: { clientId: client.id, redirectUris: null } };
  }

  /** RFC 7592 §2: the registration access token of exactly this client; any mismatch (unknown client included) is the same 401. */
  private async authorized(request: ClientRegistrationRequest): Promise<{ row: ClientRegistrationRow; client: CredentialRow }> {
    if (request.token === null) throw invalidToken('a registration access token is required (Authorization: Bearer)');
    if (request.clientId === null || !uuid.safeParse(request.clientId).success) throw invalidToken('the registration access token is not valid for this client');
    const row = await this.rows.registration(this.changes.reads(), request.clientId);
    if (!row || !sameHash(row.accessTokenHash, request.token)) throw invalidToken('the registration access token is not valid for this client');
    const client = await this.credentials.findById(row.credentialId);
    if (!client) throw invalidToken('the registration access token is not valid for this client');
    if (!(await this.rows.enabled(client.projectId))) throw switchedOff();
    return { row, client };
  }

  /** An initial access token that exists, has not expired and (single-use) was not spent, of a project that accepts registrations. */
  private async usableToken(tx: Tx, presented: string): Promise<InitialAccessTokenRow> {
    const row = await this.rows.tokenByHash(tx, tokenHash(presented));
    if (!row || row.expiresAt.getTime() <= Date.now() || (row.singleUse && row.usedAt !== null))
      throw invalidToken('the initial access token is invalid, expired, revoked or used');
    if (!(await this.rows.enabled(row.projectId, tx))) throw switchedOff();
    return row;
  }

  /** The metadata read, and a `jwks_uri` held to the upstream address policy (the Gateways fetch it). */
  private async validated(metadata: Record<string, unknown>): Promise<RegisteredClient> {
    const client = readClientMetadata(metadata);
    const jwksUri = client.settings.oidc?.jwksUri;
    if (jwksUri) {
      try {
        await this.upstreams.require(jwksUri, 'jwks_uri');
      } catch (err) {
        if (err instanceof ProblemError) throw new RegistrationRefusal(400, 'invalid_client_metadata', `jwks_uri: ${err.detail ?? err.title}`);
        throw err;
      }
    }
    return client;
  }

  /** RFC 7591 §3.2.1 / RFC 7592 §3: the client as registered (never its secret: only the registration response shows that). */
  private describe(endpoint: string, registration: Pick<ClientRegistrationRow, 'metadata' | 'createdAt'>, client: CredentialRow): Record<string, unknown> {
    return {
      client_id: client.id,
      client_id_issued_at: Math.floor(registration.createdAt.getTime() / 1000),
      ...(client.passwordHash !== null && { client_secret_expires_at: 0 }),
      registration_client_uri: `${endpoint}/${client.id}`,
      ...registration.metadata,
    };
  }
}
