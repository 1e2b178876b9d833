import { Injectable } from '@nestjs/common';
import {
  generateApiKey,
  hashApiKey,
  SecretBox,
  type CredentialRequestInput,
  type CredentialRequestView,
  type PolledCredentialRequest,
  type RotatedApiKey,
  type SubmittedCredentialRequest,
} from '@idm/domain';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ChangeWriter } from '../audit/change-writer';
import { rotateKey } from '../credentials/credentials.service';
import type { Tx } from '../database/database';
import { ActorContext, type Actor } from '../governance/actor.context';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { ApiProxyRepository } from '../repositories/api-proxy.repository';
import { CredentialRequestRepository, type CredentialRequestRow } from '../repositories/credential-request.repository';
import { CredentialRepository } from '../repositories/credential.repository';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const view = (r: CredentialRequestRow): CredentialRequestView => ({
  id: r.id,
  proxyId: r.proxyId,
  username: r.username,
  contact: r.contact,
  status: r.status,
  credentialId: r.credentialId,
  decidedBy: r.decidedBy,
  createdAt: r.createdAt.toISOString(),
});

/**
 * Applications get and rotate their own credentials: they request one for a proxy that allows
 * it, get it at once (auto) or after a project member approves (manual), fetch the key once with
 * the poll secret they were given, and later rotate it by presenting the current key.
 */
@Injectable()
export class SelfServiceService {
  constructor(
    private readonly requests: CredentialRequestRepository,
    private readonly proxies: ApiProxyRepository,
    private readonly credentials: CredentialRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
  ) {}

  async request(input: CredentialRequestInput): Promise<SubmittedCredentialRequest> {
    const proxy = await this.proxies.findById(input.proxyId);
    if (!proxy || proxy.selfService === 'off') throw new ProblemError(404, 'self_service_unavailable', 'Not available', 'this proxy does not offer self-service credentials');
    const pollSecret = `idmr_${randomBytes(24).toString('base64url')}`;
    const auto = proxy.selfService === 'auto';
    return this.asApplication(input.username, () =>
      this.changes.write(async (tx) => {
        const request = await this.requests.insert(tx, {
          projectId: proxy.projectId,
          proxyId: proxy.id,
          username: input.username,
          contact: input.contact,
          status: auto ? 'approved' : 'pending',
          pollSecretHash: sha256(pollSecret),
          decidedBy: auto ? 'auto' : null,
        });
        const apiKey = auto ? await this.issue(tx, request) : undefined;
        return {
          result: { ...view(request), credentialId: request.credentialId, pollSecret, ...(apiKey ? { apiKey } : {}) },
          change: {
            action: 'create',
            entityKind: 'credential_request',
            entityId: request.id,
            projectId: proxy.projectId,
            before: null,
            after: { ...request, status: auto ? 'approved' : 'pending' },
          },
        };
      }),
    );
  }

  /** The requester polls with its secret; an approved key is handed out exactly once. */
  async poll(requestId: string, pollSecret: string | undefined): Promise<PolledCredentialRequest> {
    const request = await this.requests.findById(requestId);
    if (!request || !pollSecret || !timingSafeEqual(Buffer.from(request.pollSecretHash), Buffer.from(sha256(pollSecret)))) {
      throw new ProblemError(404, 'credential_request_not_found', 'Not found', 'no such request for this poll secret');
    }
    if (!request.pendingKey) return view(request);
    return this.asApplication(request.username, () =>
      this.changes.write(async (tx) => {
        if (!(await this.requests.takePendingKey(tx, request.id))) return { result: view(request), change: null };
        return {
          result: { ...view(request), apiKey: this.secrets.open(request.pendingKey!) },
          change: {
            action: 'collect',
            entityKind: 'credential_request',
            entityId: request.id,
            projectId: request.projectId,
            before: { keyCollected: false },
            after: { keyCollected: true },
          },
        };
      }),
    );
  }

  async list(projectId: string): Promise<CredentialRequestView[]> {
    this.permissions.check('credential:read', { projectId });
    await requireProject(this.changes.reads(), projectId);
    return (await this.requests.listInProject(projectId)).map(view);
  }

  decide(projectId: string, requestId: string, approve: boolean): Promise<CredentialRequestView> {
    this.permissions.check('credential:write', { projectId });
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      const request = await this.requests.find(projectId, requestId, tx, true);
      if (!request) throw ProblemError.notFound('credential_request', requestId);
      if (request.status !== 'pending') throw ProblemError.conflict('already_decided', `the request is already ${request.status}`);
      const decidedBy = ActorContext.current().name;
      const decided = await this.requests.update(tx, requestId, { status: approve ? 'approved' : 'rejected', decidedBy, updatedAt: new Date() });
      if (approve) await this.issue(tx, decided);
      const after = (await this.requests.findById(requestId, tx))!;
      return { result: view(after), change: { action: approve ? 'approve' : 'reject', entityKind: 'credential_request', entityId: requestId, projectId, before: request, after } };
    });
  }

  /** Rotation without an admin: whoever holds a valid key may replace it (with a grace period). */
  async rotate(presentedKey: string | undefined, graceSeconds: number): Promise<RotatedApiKey> {
    const key = presentedKey ? await this.credentials.findKeyByHash(hashApiKey(presentedKey)) : undefined;
    if (!key || (key.expiresAt && key.expiresAt <= new Date())) throw new ProblemError(401, 'invalid_api_key', 'Present a valid API key in x-api-key to rotate it');
    const credential = (await this.credentials.findById(key.credentialId))!;
    if (!credential.enabled) throw new ProblemError(403, 'credential_disabled', 'The credential is disabled');
    return this.asApplication(credential.username, () =>
      this.changes.write(async (tx) => {
        const locked = (await this.credentials.findById(credential.id, tx, true))!;
        return rotateKey(this.credentials, tx, locked, key.id, graceSeconds);
      }),
    );
  }

  /** Creates the credential with one key; the key waits sealed until the requester fetches it. */
  private async issue(tx: Tx, request: CredentialRequestRow): Promise<string> {
    const credential = await this.credentials.insert(tx, { projectId: request.projectId, username: request.username, description: `self-service for proxy ${request.proxyId}` });
    const { key, prefix, hash } = generateApiKey();
    await this.credentials.insertKey(tx, { credentialId: credential.id, prefix, keyHash: hash });
    const auto = request.decidedBy === 'auto';
    await this.requests.update(tx, request.id, { credentialId: credential.id, pendingKey: auto ? null : this.secrets.seal(key) });
    request.credentialId = credential.id;
    return key;
  }

  /** Self-service calls have no operator: they act as the application, named in the audit trail. */
  private asApplication<T>(username: string, work: () => Promise<T>): Promise<T> {
    const current = ActorContext.current();
    const actor: Actor = { ...current, id: null, type: 'user', name: `application:${username}`, grants: [] };
    return ActorContext.run(actor, work);
  }
}
