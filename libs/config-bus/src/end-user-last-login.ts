import type Redis from 'ioredis';

/**
 * When each end user last logged in at a Gateway's login page: one Redis hash for the
 * installation (credential id -> epoch ms), written by the Gateway that logged the user in and
 * read by the Manager's users API. Runtime state, like brute-force blocks: the Gateway never
 * writes the database, and a lost value only shows as "never" until the next login.
 */
export const END_USER_LAST_LOGIN_KEY = 'idm:end-users:last-login';

export class EndUserLastLogins {
  constructor(private readonly redis: Redis) {}

  async record(credentialId: string, at: number): Promise<void> {
    await this.redis.hset(END_USER_LAST_LOGIN_KEY, credentialId, String(at));
  }

  /** By credential id; absent ids were never recorded. */
  async of(credentialIds: string[]): Promise<Map<string, Date>> {
    if (credentialIds.length === 0) return new Map();
    const values = await this.redis.hmget(END_USER_LAST_LOGIN_KEY, ...credentialIds);
    const found = new Map<string, Date>();
    values.forEach((v, i) => {
      if (v !== null && /^\d{1,16}$/.test(v)) found.set(credentialIds[i], new Date(Number(v)));
    });
    return found;
  }

  async forget(credentialId: string): Promise<void> {
    await this.redis.hdel(END_USER_LAST_LOGIN_KEY, credentialId);
  }
}
