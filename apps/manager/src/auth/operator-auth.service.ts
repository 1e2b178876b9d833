import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { ChangeWriter } from '../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { ActorContext, systemActor } from '../governance/actor.context';
import { ProblemError } from '../problems/problem.error';
import { OperatorRepository } from '../repositories/operator.repository';
import { RoleBindingRepository } from '../repositories/role-binding.repository';
import { RoleRepository } from '../repositories/role.repository';
import type { Session } from './login.schema';
import { LoginThrottle } from '../throttling/login-throttle';
import { FederatedOperators } from '../operator-sso/federated-operators';
import { OperatorPasswordSources } from '../operator-sso/operator-password-sources';
import { PasswordHasher } from './password-hasher';

export interface Operator {
  id: string;
  username: string;
}

const sessionHash = (token: string) => createHash('sha256').update(token).digest('hex');

/** Operator login with opaque bearer sessions; the bootstrap admin comes from the environment. */
@Injectable()
export class OperatorAuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger('OperatorAuth');
  /** Verified against when the username is unknown, so both failures take the same time. */
  private dummyHash = '';

  constructor(
    @Inject(MANAGER_CONFIG) private readonly config: ManagerConfig,
    private readonly operators: OperatorRepository,
    private readonly roles: RoleRepository,
    private readonly bindings: RoleBindingRepository,
    private readonly changes: ChangeWriter,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly directories: OperatorPasswordSources,
    private readonly federated: FederatedOperators,
  ) {}

  /** Syncs built-in roles and makes the environment's admin a system admin with that password. */
  async onApplicationBootstrap(): Promise<void> {
    this.dummyHash = await this.hasher.hash(randomBytes(16).toString('hex'));
    const { IDM_ADMIN_USERNAME: username, IDM_ADMIN_PASSWORD: password } = this.config;
    const existing = await this.operators.findByUsername(username);
    const passwordOk = existing && (await this.hasher.verify(existing.passwordHash, password));
    const passwordHash = passwordOk ? existing.passwordHash : await this.hasher.hash(password);
    await ActorContext.run(systemActor('bootstrap'), () =>
      this.changes.write(async (tx) => {
        const roleIds = await this.roles.syncBuiltIn(tx);
        const admin = await this.operators.upsertPassword(tx, username, passwordHash);
        const bound = await this.bindings.ensureSystemBinding(tx, roleIds.get('system-admin')!, admin.id);
        const changed = !existing || !passwordOk || !bound;
        return {
          result: undefined,
          change: changed
            ? {
                action: existing ? 'update' : 'create',
                entityKind: 'user',
                entityId: admin.id,
                projectId: null,
                before: existing ?? null,
                after: { ...admin, roles: ['system-admin'] },
              }
            : null,
        };
      }),
    );
    if (!existing || !passwordOk) this.logger.log(`bootstrap operator '${username}' ${existing ? 'password updated' : 'created'}`);
  }

  /**
   * `address`: the client's, for LoginThrottle. A local account of that username is the only one
   * asked (the bootstrap admin stays local: no directory password opens it); without one, the
   * identity sources enabled for operator login are asked and the one that verifies provisions
   * its operator. A lockout covers both alike.
   */
  async login(username: string, password: string, address: string): Promise<Session> {
    const operator = await this.throttle.attempt<Operator>(username, address, async () => {
      const local = await this.operators.findLocalByUsername(username);
      const valid = await this.hasher.verify(local?.passwordHash ?? this.dummyHash, password);
      if (local) return valid ? local : undefined;
      const vouched = await this.directories.verify(username, password);
      const provisioned = vouched && (await this.federated.provision(vouched.source, vouched.identity));
      return provisioned && { id: provisioned.id, username: provisioned.username };
    });
    if (!operator) throw new ProblemError(401, 'invalid_login', 'Invalid username or password');
    return this.openSession(operator);
  }

  /**
   * A new session for an operator already authenticated (a password login, an SSO callback);
   * `via` names how they proved who they are when it was not a password here (`sso:<source>`), for the audit.
   */
  async openSession(operator: Operator, via?: string): Promise<Session> {
    const token = `idms_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Date.now() + this.config.SESSION_TTL_SECONDS * 1000);
    const actor = { ...ActorContext.current(), id: operator.id, name: operator.username };
    await ActorContext.run(actor, () =>
      this.changes.write(async (tx) => {
        const session = await this.operators.openSession(tx, operator.id, sessionHash(token), expiresAt);
        return {
          result: undefined,
          change: { action: 'create', entityKind: 'session', entityId: operator.id, projectId: null, before: null, after: via ? { ...session, via } : session },
        };
      }),
    );
    return { token, tokenType: 'Bearer', expiresAt: expiresAt.toISOString() };
  }

  authenticate(token: string): Promise<Operator | undefined> {
    return this.operators.findBySession(sessionHash(token));
  }

  logout(token: string): Promise<void> {
    return this.changes.write(async (tx) => {
      const session = await this.operators.closeSession(tx, sessionHash(token));
      return {
        result: undefined,
        change: session ? { action: 'delete', entityKind: 'session', entityId: session.operatorId, projectId: null, before: session, after: null } : null,
      };
    });
  }
}
