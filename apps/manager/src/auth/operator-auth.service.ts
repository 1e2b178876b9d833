import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { ProblemError } from '../problems/problem.error';
import { OperatorRepository } from './operator.repository';
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
    private readonly hasher: PasswordHasher,
  ) {}

  /** The environment is the source of truth for the bootstrap admin's password. */
  async onApplicationBootstrap(): Promise<void> {
    this.dummyHash = await this.hasher.hash(randomBytes(16).toString('hex'));
    const { IDM_ADMIN_USERNAME: username, IDM_ADMIN_PASSWORD: password } = this.config;
    const existing = await this.operators.findByUsername(username);
    if (existing && (await this.hasher.verify(existing.passwordHash, password))) return;
    await this.operators.upsert(username, await this.hasher.hash(password));
    this.logger.log(`bootstrap operator '${username}' ${existing ? 'password updated' : 'created'}`);
  }

  async login(username: string, password: string): Promise<{ token: string; tokenType: 'Bearer'; expiresAt: string }> {
    const operator = await this.operators.findByUsername(username);
    const valid = await this.hasher.verify(operator?.passwordHash ?? this.dummyHash, password);
    if (!operator || !valid) throw new ProblemError(401, 'invalid_login', 'Invalid username or password');
    const token = `idms_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Date.now() + this.config.SESSION_TTL_SECONDS * 1000);
    await this.operators.createSession(operator.id, sessionHash(token), expiresAt);
    return { token, tokenType: 'Bearer', expiresAt: expiresAt.toISOString() };
  }

  async authenticate(token: string): Promise<Operator | undefined> {
    const session = await this.operators.findSession(sessionHash(token));
    return session && { id: session.operatorId, username: session.username };
  }

  logout(token: string): Promise<void> {
    return this.operators.deleteSession(sessionHash(token));
  }
}
