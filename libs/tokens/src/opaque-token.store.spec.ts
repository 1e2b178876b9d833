import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { OpaqueTokenGrant } from './opaque-token.record';
import { OpaqueTokenStore } from './opaque-token.store';
import { TokenStoreUnavailable } from './token-store-unavailable';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('OpaqueTokenStore on a real Redis', () => {
  const redis = new Redis(REDIS_URL);
  const keyPrefix = `test:tokens:${randomBytes(6).toString('hex')}`;
  let now = Date.now();
  const store = new OpaqueTokenStore(redis, { keyPrefix, clock: () => now, maxRefreshCount: 3 });
  const grant: OpaqueTokenGrant = { clientId: 'client-a', credentialId: 'cred-1', subject: 'alice', scope: 'read write', proxyId: 'proxy-1', environment: 'test' };
  const lifetimes = { accessTokenSeconds: 300, refreshTokenSeconds: 3600 };
  const rotation = { clientId: 'client-a', accessTokenSeconds: 300, refreshTokenSeconds: 3600 };

  afterAll(async () => {
    const keys = await redis.keys(`${keyPrefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  beforeEach(() => {
    now = Date.now();
  });

  it('issues prefixed random tokens and finds their records', async () => {
    const issued = await store.issue(grant, lifetimes);
    expect(issued.accessToken).toMatch(/^idm_at_[A-Za-z0-9_-]{43}$/);
    expect(issued.refreshToken).toMatch(/^idm_rt_[A-Za-z0-9_-]{43}$/);
    const nowSeconds = Math.floor(now / 1000);
    expect(await store.lookup(issued.accessToken)).toEqual({
      ...grant,
      kind: 'access',
      issuedAt: nowSeconds,
      expiresAt: nowSeconds + 300,
      familyId: issued.familyId,
      refreshCount: 0,
    });
    expect(await store.lookup(issued.refreshToken!)).toMatchObject({ kind: 'refresh', expiresAt: nowSeconds + 3600 });
  });

  it('stores only hashes, with TTLs', async () => {
    const issued = await store.issue(grant, lifetimes);
    const keys = await redis.keys(`${keyPrefix}:*`);
    const secretParts = [issued.accessToken, issued.refreshToken!].map((t) => t.slice(7));
    expect(keys.some((k) => secretParts.some((s) => k.includes(s)))).toBe(false);
    for (const key of keys) expect(await redis.ttl(key)).toBeGreaterThan(0);
  });

  it('issues no refresh token when no refresh lifetime is given', async () => {
    const issued = await store.issue({ clientId: 'client-a', subject: 'client-a', scope: '', environment: 'test' }, { accessTokenSeconds: 60 });
    expect(issued.refreshToken).toBeUndefined();
    const record = await store.lookup(issued.accessToken);
    expect(record).toMatchObject({ subject: 'client-a', scope: '' });
    expect(record).not.toHaveProperty('proxyId');
  });

  it('answers null for unknown, foreign, malformed and expired tokens', async () => {
    expect(await store.lookup(`idm_at_${randomBytes(32).toString('base64url')}`)).toBeNull();
    expect(await store.lookup('eyJhbGciOiJSUzI1NiJ9.e30.sig')).toBeNull();
    expect(await store.lookup('idm_at_short')).toBeNull();
    const issued = await store.issue(grant, lifetimes);
    now += 300_000;
    expect(await store.lookup(issued.accessToken)).toBeNull();
    expect(await store.lookup(issued.refreshToken!)).not.toBeNull();
  });

  it('revokes an access token alone, and a refresh token with its family', async () => {
    const one = await store.issue(grant, lifetimes);
    expect(await store.revoke(one.accessToken)).toBe('revoked');
    expect(await store.lookup(one.accessToken)).toBeNull();
    expect(await store.lookup(one.refreshToken!)).not.toBeNull();

    const two = await store.issue(grant, lifetimes);
    expect(await store.revoke(two.refreshToken!)).toBe('revoked');
    expect(await store.lookup(two.accessToken)).toBeNull();
    expect(await store.lookup(two.refreshToken!)).toBeNull();
    expect(await redis.exists(`${keyPrefix}:family:${two.familyId}`)).toBe(0);
    expect(await store.revoke(two.refreshToken!)).toBe('unknown_token');
    expect(await store.revoke('whatever')).toBe('unknown_token');
  });

  it('leaves tokens of another client alone on revoke', async () => {
    const issued = await store.issue(grant, lifetimes);
    expect(await store.revoke(issued.refreshToken!, 'client-b')).toBe('client_mismatch');
    expect(await store.lookup(issued.accessToken)).not.toBeNull();
    expect(await store.revoke(issued.refreshToken!, 'client-a')).toBe('revoked');
  });

  it('names the family of a revoked refresh token, even one already used', async () => {
    const issued = await store.issue(grant, lifetimes);
    expect((await store.rotateRefresh(issued.refreshToken!, rotation)).outcome).toBe('rotated');
    expect(await store.revokeInFamily(issued.refreshToken!, 'client-a')).toEqual({ result: 'revoked', familyId: issued.familyId, revokedJwts: [] });
  });

  it('restores a lost refresh token from its record once, never over one Redis still holds', async () => {
    const issued = await store.issue(grant, lifetimes);
    const record = (await store.lookup(issued.refreshToken!))!;
    expect(await store.restore(issued.refreshToken!, record)).toBe(false); // still in Redis
    const rotated = await store.rotateRefresh(issued.refreshToken!, { ...rotation, scope: 'read' });
    if (rotated.outcome !== 'rotated') throw new Error(`expected rotation, got ${JSON.stringify(rotated)}`);
    expect(rotated.grantScope).toBe('read write');
    expect(await store.restore(issued.refreshToken!, record)).toBe(false); // used, not lost: stays used

    const lost = await store.issue(grant, lifetimes);
    const lostRecord = (await store.lookup(lost.refreshToken!))!;
    await redis.del(...(await redis.keys(`${keyPrefix}:rt:*`)));
    expect(await store.lookup(lost.refreshToken!)).toBeNull();
    expect(await store.restore(lost.refreshToken!, lostRecord)).toBe(true);
    expect(await store.lookup(lost.refreshToken!)).toEqual(lostRecord);
    expect(await redis.ttl(`${keyPrefix}:family:${lost.familyId}`)).toBeGreaterThan(0);
    expect((await store.rotateRefresh(lost.refreshToken!, rotation)).outcome).toBe('rotated');
    expect(await store.restore(lost.refreshToken!, { ...lostRecord, expiresAt: Math.floor(now / 1000) - 1 })).toBe(false);
  });

  it('rotates a refresh token once; the new pair works and the old one is spent', async () => {
    const issued = await store.issue(grant, lifetimes);
    const rotated = await store.rotateRefresh(issued.refreshToken!, rotation);
    if (rotated.outcome !== 'rotated') throw new Error(`expected rotation, got ${JSON.stringify(rotated)}`);
    expect(rotated.record).toMatchObject({ ...grant, kind: 'access', familyId: issued.familyId, refreshCount: 1 });
    expect(rotated.tokens.refreshToken).not.toBe(issued.refreshToken);
    expect(await store.lookup(rotated.tokens.accessToken)).toEqual(rotated.record);
    expect(await store.lookup(rotated.tokens.refreshToken)).toMatchObject({ kind: 'refresh', refreshCount: 1, scope: 'read write' });
    expect(await store.lookup(issued.refreshToken!)).toBeNull();
    expect(await store.lookup(issued.accessToken)).not.toBeNull();
  });

  it("keeps an OpenID Connect grant's auth_time through rotations and a restore (the refresh's new ID token says when the user signed in)", async () => {
    const signedIn = { ...grant, authTime: Math.floor(now / 1000) - 600 };
    const issued = await store.issue(signedIn, lifetimes);
    const rotated = await store.rotateRefresh(issued.refreshToken!, rotation);
    if (rotated.outcome !== 'rotated') throw new Error(`expected rotation, got ${JSON.stringify(rotated)}`);
    expect(rotated.record.authTime).toBe(signedIn.authTime);
    const record = (await store.lookup(rotated.tokens.refreshToken))!;
    expect(record.authTime).toBe(signedIn.authTime);
    await redis.del(...(await redis.keys(`${keyPrefix}:rt:*`)));
    expect(await store.restore(rotated.tokens.refreshToken, record)).toBe(true);
    const again = await store.rotateRefresh(rotated.tokens.refreshToken, rotation);
    expect(again.outcome === 'rotated' && again.record.authTime).toBe(signedIn.authTime);
    // A grant without a login (client credentials, password) has none.
    expect((await store.lookup(issued.accessToken))!.authTime).toBe(signedIn.authTime);
    expect((await store.lookup((await store.issue(grant, lifetimes)).accessToken))!.authTime).toBeUndefined();
  });

  it('revokes the whole family when a used refresh token comes back', async () => {
    const issued = await store.issue(grant, lifetimes);
    const first = await store.rotateRefresh(issued.refreshToken!, rotation);
    if (first.outcome !== 'rotated') throw new Error('expected rotation');
    expect(await store.rotateRefresh(issued.refreshToken!, rotation)).toEqual({ outcome: 'reuse_detected', familyId: issued.familyId, revokedJwts: [] });
    for (const token of [issued.accessToken, first.tokens.accessToken, first.tokens.refreshToken]) expect(await store.lookup(token)).toBeNull();
    expect(await store.rotateRefresh(first.tokens.refreshToken, rotation)).toEqual({ outcome: 'rejected', reason: 'unknown_token' });
    expect(await store.rotateRefresh(issued.refreshToken!, rotation)).toEqual({ outcome: 'rejected', reason: 'unknown_token' });
  });

  it('hands back the live JWTs minted from a family with every way of revoking it, and refuses to index one after', async () => {
    const exp = (seconds: number) => Math.floor(now / 1000) + seconds;
    const reused = await store.issue(grant, lifetimes);
    expect(await store.recordJwt(reused.familyId, 'jti-expired', exp(-1))).toBe(true);
    expect(await store.recordJwt(reused.familyId, 'jti-first', exp(300))).toBe(true);
    const rotated = await store.rotateRefresh(reused.refreshToken!, rotation);
    if (rotated.outcome !== 'rotated') throw new Error('expected rotation');
    expect(await store.recordJwt(rotated.tokens.familyId, 'jti-second', exp(600))).toBe(true);
    // Indexing prunes what expired; the spent refresh token presented again takes the live JWTs with the family.
    expect(await store.rotateRefresh(reused.refreshToken!, rotation)).toEqual({
      outcome: 'reuse_detected',
      familyId: reused.familyId,
      revokedJwts: [
        { jti: 'jti-first', exp: exp(300) },
        { jti: 'jti-second', exp: exp(600) },
      ],
    });
    // Revoked first: a JWT minted concurrently is refused, not indexed into a family nobody will revoke again.
    expect(await store.recordJwt(reused.familyId, 'jti-late', exp(300))).toBe(false);
    expect(await redis.exists(`${keyPrefix}:family:${reused.familyId}:jwts`)).toBe(0);

    const revoked = await store.issue(grant, lifetimes);
    await store.recordJwt(revoked.familyId, 'jti-revoked', exp(300));
    expect(await store.revokeInFamily(revoked.accessToken, 'client-a')).toEqual({ result: 'revoked', familyId: revoked.familyId, revokedJwts: [] });
    expect(await store.revokeInFamily(revoked.refreshToken!, 'client-a')).toMatchObject({ revokedJwts: [{ jti: 'jti-revoked', exp: exp(300) }] });

    const byId = await store.issue(grant, lifetimes);
    await store.recordJwt(byId.familyId, 'jti-by-id', exp(300));
    expect(await store.revokeFamily(byId.familyId)).toEqual([{ jti: 'jti-by-id', exp: exp(300) }]);
    expect(await store.lookup(byId.refreshToken!)).toBeNull();
    expect(await store.revokeFamily(byId.familyId)).toEqual([]);

    const replaced = await store.issue({ ...grant, clientId: 'client-r' }, lifetimes, { replacePrevious: true });
    await store.recordJwt(replaced.familyId, 'jti-replaced', exp(300));
    const next = await store.issue({ ...grant, clientId: 'client-r' }, lifetimes, { replacePrevious: true });
    expect(next).toMatchObject({ replacedFamilies: [replaced.familyId], replacedJwts: [{ jti: 'jti-replaced', exp: exp(300) }] });
  });

  it('lets exactly one of many concurrent rotations win', async () => {
    const issued = await store.issue(grant, lifetimes);
    const clients = Array.from({ length: 8 }, () => new Redis(REDIS_URL));
    try {
      const results = await Promise.all(clients.map((c) => new OpaqueTokenStore(c, { keyPrefix }).rotateRefresh(issued.refreshToken!, rotation)));
      const outcomes = results.map((r) => r.outcome).sort();
      expect(outcomes.filter((o) => o === 'rotated')).toHaveLength(1);
      // The first loser presents a spent token and revokes the family (winner included); the
      // family and the spent token are gone for the later ones, which see an unknown token.
      expect(outcomes.filter((o) => o === 'reuse_detected')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'rejected')).toHaveLength(results.length - 2);
      const winner = results.find((r) => r.outcome === 'rotated');
      if (winner?.outcome === 'rotated') expect(await store.lookup(winner.tokens.refreshToken)).toBeNull();
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('refuses rotation by another client without spending the token', async () => {
    const issued = await store.issue(grant, lifetimes);
    expect(await store.rotateRefresh(issued.refreshToken!, { ...rotation, clientId: 'client-b' })).toEqual({ outcome: 'rejected', reason: 'client_mismatch' });
    expect((await store.rotateRefresh(issued.refreshToken!, rotation)).outcome).toBe('rotated');
  });

  it('refuses an access token, an expired refresh token and rotations past the limit', async () => {
    const issued = await store.issue(grant, lifetimes);
    expect(await store.rotateRefresh(issued.accessToken, rotation)).toEqual({ outcome: 'rejected', reason: 'unknown_token' });
    let token = issued.refreshToken!;
    for (let i = 1; i <= 3; i++) {
      const next = await store.rotateRefresh(token, rotation);
      if (next.outcome !== 'rotated') throw new Error(`rotation ${i} failed`);
      token = next.tokens.refreshToken;
    }
    expect(await store.rotateRefresh(token, rotation)).toEqual({ outcome: 'rejected', reason: 'refresh_limit_reached' });
    expect(await store.rotateRefresh(token, { ...rotation, maxRefreshCount: 10 })).toMatchObject({ outcome: 'rotated' });

    const later = await store.issue(grant, lifetimes);
    now += 3600_000;
    expect(await store.rotateRefresh(later.refreshToken!, rotation)).toEqual({ outcome: 'rejected', reason: 'unknown_token' });
  });

  it('narrows the scope of the new access token only, and refuses scope never granted', async () => {
    const issued = await store.issue(grant, lifetimes);
    expect(await store.rotateRefresh(issued.refreshToken!, { ...rotation, scope: 'read admin' })).toEqual({ outcome: 'rejected', reason: 'scope_not_granted' });
    const narrowed = await store.rotateRefresh(issued.refreshToken!, { ...rotation, scope: 'read' });
    if (narrowed.outcome !== 'rotated') throw new Error('expected rotation');
    expect(narrowed.record.scope).toBe('read');
    expect(await store.lookup(narrowed.tokens.refreshToken)).toMatchObject({ scope: 'read write' });
  });

  it('reloads its scripts after Redis forgot them', async () => {
    const issued = await store.issue(grant, lifetimes);
    await redis.script('FLUSH');
    expect((await store.rotateRefresh(issued.refreshToken!, rotation)).outcome).toBe('rotated');
  });
});

describe('OpaqueTokenStore without Redis', () => {
  it('reports TokenStoreUnavailable, never "unknown token"', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => undefined);
    const store = new OpaqueTokenStore(down);
    const grant = { clientId: 'c', subject: 's', scope: '', environment: 'e' };
    const token = `idm_rt_${randomBytes(32).toString('base64url')}`;
    await expect(store.issue(grant, { accessTokenSeconds: 60 })).rejects.toBeInstanceOf(TokenStoreUnavailable);
    await expect(store.lookup(token)).rejects.toBeInstanceOf(TokenStoreUnavailable);
    await expect(store.revoke(token)).rejects.toBeInstanceOf(TokenStoreUnavailable);
    await expect(store.rotateRefresh(token, { clientId: 'c', accessTokenSeconds: 60, refreshTokenSeconds: 60 })).rejects.toBeInstanceOf(TokenStoreUnavailable);
    await expect(store.lookup(token)).rejects.not.toHaveProperty('message', expect.stringContaining(token));
    down.disconnect();
  });
});
