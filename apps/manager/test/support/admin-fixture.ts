import { EnvironmentConfigStore } from '@idm/config-bus';
import { SecretBox } from '@idm/domain';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './in-process-manager';
import { createTestDatabase } from './test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * What the entity specs (identity sources, key managers, their secrets) start from: an in-process
 * Manager on PGlite with its own master key, one environment, two projects, and an operator per
 * named role bound at the first project, signed in.
 */
export interface AdminFixture {
  readonly m: InProcessManager;
  /** The environment every System or project entity is published to. */
  readonly env: string;
  readonly p1: string;
  readonly p2: string;
  /** Opens what the Manager sealed (the master key is the fixture's own). */
  readonly box: SecretBox;
  readonly redis: Redis;
  /** Session tokens by role name. */
  readonly tokens: Readonly<Record<string, string>>;
  /** A request that must succeed; its body. */
  ok(method: string, url: string, body?: unknown): Promise<any>;
  /** The environment as published to Redis. */
  published(): ReturnType<EnvironmentConfigStore['load']>;
  close(): Promise<void>;
}

/** `prefix`-`suffix` names the environment and the projects, so parallel runs never meet. */
export async function startAdminFixture(prefix: string, suffix: string, roles: readonly string[] = []): Promise<AdminFixture> {
  const master = randomBytes(32);
  const database = await createTestDatabase('pglite');
  const redis = new Redis(REDIS_URL);
  const env = `${prefix}-${suffix}`;
  let m: InProcessManager | undefined;
  const close = async () => {
    await m?.close();
    await new EnvironmentConfigStore(redis).remove(env);
    redis.disconnect();
    await database.drop();
  };
  try {
    m = await startInProcessManager(database, { IDM_MASTER_KEYS: `m1:${master.toString('base64')}` });
    const manager = m;
    const ok = async (method: string, url: string, body?: unknown) => {
      const r = await manager.request(method, url, body);
      if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    await ok('POST', '/api/v1/environments', { name: env });
    const p1: string = (await ok('POST', '/api/v1/projects', { name: `${prefix}-a-${suffix}` })).id;
    const p2: string = (await ok('POST', '/api/v1/projects', { name: `${prefix}-b-${suffix}` })).id;
    const all: { name: string; id: string }[] = await ok('GET', '/api/v1/roles');
    const tokens: Record<string, string> = {};
    for (const role of roles) {
      const username = `${role.replace(/[^a-z]/g, '')}${suffix}`;
      const user = await ok('POST', '/api/v1/users', { username, password: 'user-password-1' });
      await ok('POST', '/api/v1/role-bindings', { roleId: all.find((r) => r.name === role)!.id, subject: { type: 'user', id: user.id }, scope: { type: 'project', id: p1 } });
      tokens[role] = (await manager.request('POST', '/api/v1/auth/login', { username, password: 'user-password-1' }, { token: null })).body.token;
    }
    const box = new SecretBox([{ id: 'm1', key: master }]);
    return { m: manager, env, p1, p2, box, redis, tokens, ok, published: () => new EnvironmentConfigStore(redis).load(env), close };
  } catch (err) {
    await close();
    throw err;
  }
}
