import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import { createHash, randomBytes } from 'node:crypto';
import { ChangeWriter } from '../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { Database } from '../database/database';
import { operators, operatorSessions, roleBindings } from '../database/schema';
import { ActorContext, systemActor } from '../governance/actor.context';
import { syncBuiltInRoles } from '../governance/built-in-roles';
import { ProblemError } from '../problems/problem.error';
import type { Session } from './login.schema';
import { LoginThrottle } from '../throttling/login-throttle';
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
    private readonly database: Database,
    private readonly changes: ChangeWriter,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
  ) {}

  /** Syncs built-in roles and makes the environment's admin a system admin with that password. */
  async onApplicationBootstrap(): Promise<void> {
    this.dummyHash = await this.hasher.hash(randomBytes(16).toString('hex'));
    const { IDM_ADMIN_USERNAME: username, IDM_ADMIN_PASSWORD: password } = this.config;
    const [existing] = await this.database.db.select().from(operators).where(eq(operators.username, username));
    const passwordOk = existing && (await this.hasher.verify(existing.passwordHash, password));
    const passwordHash = passwordOk ? existing.passwordHash : await this.hasher.hash(password);
    await ActorContext.run(systemActor('bootstrap'), () =>
      this.changes.write(async (tx) => {
        const roleIds = await syncBuiltInRoles(tx);
        const [admin] = await tx
          .insert(operators)
          .values({ username, passwordHash })
          .onConflictDoUpdate({ target: operators.username, set: { passwordHash, updatedAt: new Date() } })
          .returning();
        const systemAdmin = roleIds.get('system-admin')!;
        const [bound] = await tx
          .select({ id: roleBindings.id })
          .from(roleBindings)
          .where(and(eq(roleBindings.roleId, systemAdmin), eq(roleBindings.subjectId, admin.id), eq(roleBindings.scopeType, 'system'), isNull(roleBindings.scopeId)));
        if (!bound) await tx.insert(roleBindings).values({ roleId: systemAdmin, subjectType: 'user', subjectId: admin.id, scopeType: 'system' });
        const changed = !existing || !passwordOk || !bound;
        return {
          result: undefined,
          change: changed ? { action: existing ? 'update' : 'create', entityKind: 'user', entityId: admin.id, projectId: null, before: existing ?? null, after: { ...admin, roles: ['system-admin'] } } : null,
        };
      }),
    );
    if (!existing || !passwordOk) this.logger.log(`bootstrap operator '${username}' ${existing ? 'password updated' : 'created'}`);
  }

  /** `address`: the client's, for LoginThrottle. */
  async login(username: string, password: string, address: string): Promise<Session> {
    const operator = await this.throttle.attempt(username, address, async () => {
      const [found] = await this.database.db.select().from(operators).where(eq(operators.username, username));
      const valid = await this.hasher.verify(found?.passwordHash ?? this.dummyHash, password);
      return valid ? found : undefined;
    });
    if (!operator) throw new ProblemError(401, 'invalid_login', 'Invalid username or password');
    const token = `idms_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Date.now() + this.config.SESSION_TTL_SECONDS * 1000);
    const actor = { ...ActorContext.current(), id: operator.id, name: operator.username };
    await ActorContext.run(actor, () =>
      this.changes.write(async (tx) => {
        await tx.delete(operatorSessions).where(and(eq(operatorSessions.operatorId, operator.id), lt(operatorSessions.expiresAt, new Date())));
        const [session] = await tx.insert(operatorSessions).values({ operatorId: operator.id, tokenHash: sessionHash(token), expiresAt }).returning();
        return { result: undefined, change: { action: 'create', entityKind: 'session', entityId: operator.id, projectId: null, before: null, after: session } };
      }),
    );
    return { token, tokenType: 'Bearer', expiresAt: expiresAt.toISOString() };
  }

  async authenticate(token: string): Promise<Operator | undefined> {
    const [session] = await this.database.db
      .select({ id: operators.id, username: operators.username })
      .from(operatorSessions)
      .innerJoin(operators, eq(operators.id, operatorSessions.operatorId))
      .where(and(eq(operatorSessions.tokenHash, sessionHash(token)), gt(operatorSessions.expiresAt, new Date())));
    return session;
  }

  logout(token: string): Promise<void> {
    return this.changes.write(async (tx) => {
      const [session] = await tx.delete(operatorSessions).where(eq(operatorSessions.tokenHash, sessionHash(token))).returning();
      return { result: undefined, change: session ? { action: 'delete', entityKind: 'session', entityId: session.operatorId, projectId: null, before: session, after: null } : null };
    });
  }
}
