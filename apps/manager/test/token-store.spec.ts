import { TOKEN_LOOKUP, TOKEN_PERSIST_PREFIX, TOKEN_PERSIST_QUEUE, type TokenPersistJob } from '@idm/config-bus';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { Queue } from 'bullmq';
import { createHash, randomBytes } from 'node:crypto';
import { firstValueFrom } from 'rxjs';
import { TokenPruner } from '../src/token-store/token-pruner';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { eventually, freePort, RedisProcess } from '@idm/test-kit';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/** The Manager's side of opaque tokens: durable copies from BullMQ jobs, looked up over the bus. */
describe('durable token store', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  let queue: Queue<TokenPersistJob>;
  let bus: ClientProxy;
  const environment = `tok-${randomBytes(3).toString('hex')}`;
  const hash = (token: string) => createHash('sha256').update(token).digest('hex');
  const lookup = (token: string) => firstValueFrom(bus.send(TOKEN_LOOKUP, { tokenHash: hash(token), environment }));

  // A private Redis: any other Manager on a shared one would compete for the queue and the bus.
  let redis: RedisProcess;
  const logs: string[] = [];

  beforeAll(async () => {
    redis = new RedisProcess(await freePort());
    await redis.start();
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database, { REDIS_URL: redis.url, LOG_LEVEL: 'warn' }, { logDestination: { write: (line: string) => void logs.push(line) } });
    await m.app.startAllMicroservices();
    queue = new Queue(TOKEN_PERSIST_QUEUE, { prefix: TOKEN_PERSIST_PREFIX, connection: { host: '127.0.0.1', port: redis.port } });
    bus = ClientProxyFactory.create({ transport: Transport.REDIS, options: { host: '127.0.0.1', port: redis.port } });
    await bus.connect();
  });

  afterAll(async () => {
    await bus?.close();
    await queue?.close();
    await m?.close();
    await database?.drop();
    await redis?.stop();
  });

  it('persists issued tokens and answers lookups until they are revoked', async () => {
    const access = `at_${randomBytes(16).toString('hex')}`;
    const refresh = `rt_${randomBytes(16).toString('hex')}`;
    const family = randomBytes(8).toString('hex');
    const expiresAt = Date.now() + 60_000;
    await queue.add('issue', { op: 'issue', tokenHash: hash(access), kind: 'access', environment, familyId: family, record: { subject: 'alice', scope: 'read' }, expiresAt });
    await queue.add('issue', { op: 'issue', tokenHash: hash(refresh), kind: 'refresh', environment, familyId: family, record: { subject: 'alice' }, expiresAt: null });
    const found = await eventually(
      () => lookup(access),
      (r) => r !== null,
      { what: 'the durable copy' },
    );
    expect(found).toEqual({ kind: 'access', familyId: family, record: { subject: 'alice', scope: 'read' }, expiresAt });
    expect(await lookup(`at_unknown`)).toBeNull();
    expect(await firstValueFrom(bus.send(TOKEN_LOOKUP, { tokenHash: hash(access), environment: 'elsewhere' }))).toBeNull();

    await queue.add('revoke', { op: 'revoke-family', familyId: family });
    await eventually(
      () => lookup(refresh),
      (r) => r === null,
      { what: 'family revocation' },
    );
    expect(await lookup(access)).toBeNull();
  });

  it('applies a revocation that lands before the copy it revokes (jobs run concurrently)', async () => {
    const access = `at_${randomBytes(16).toString('hex')}`;
    const refresh = `rt_${randomBytes(16).toString('hex')}`;
    const family = randomBytes(8).toString('hex');
    await queue.add('revoke', { op: 'revoke', tokenHash: hash(access) });
    await queue.add('revoke', { op: 'revoke-family', familyId: family });
    const { Client } = await import('pg');
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await eventually(
        async () =>
          (await client.query('SELECT count(*)::int AS n FROM oauth_token_revocations WHERE subject = ANY($1)', [[`token:${hash(access)}`, `family:${family}`]])).rows[0].n,
        (n) => n === 2,
        { what: 'both revocations' },
      );
      await queue.add('issue', { op: 'issue', tokenHash: hash(access), kind: 'access', environment, familyId: null, record: {}, expiresAt: null });
      await queue.add('issue', { op: 'issue', tokenHash: hash(refresh), kind: 'refresh', environment, familyId: family, record: {}, expiresAt: null });
      await eventually(
        async () => (await client.query('SELECT count(*)::int AS n FROM oauth_tokens WHERE token_hash = ANY($1)', [[hash(access), hash(refresh)]])).rows[0].n,
        (n) => n === 2,
        { what: 'both copies' },
      );
    } finally {
      await client.end();
    }
    expect(await lookup(access)).toBeNull();
    expect(await lookup(refresh)).toBeNull();
  });

  it('does not return expired tokens and never stores the token itself', async () => {
    const token = `at_${randomBytes(16).toString('hex')}`;
    await queue.add('issue', { op: 'issue', tokenHash: hash(token), kind: 'access', environment, familyId: null, record: {}, expiresAt: Date.now() - 1000 });
    const { Client } = await import('pg');
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await eventually(
        async () => (await client.query('SELECT count(*)::int AS n FROM oauth_tokens WHERE token_hash = $1', [hash(token)])).rows[0].n,
        (n) => n === 1,
        { what: 'the row' },
      );
      const dump = JSON.stringify((await client.query('SELECT * FROM oauth_tokens')).rows);
      expect(dump).not.toContain(token);
    } finally {
      await client.end();
    }
    expect(await lookup(token)).toBeNull();
  });

  it('prunes expired copies, and revocations a day old that cover no live copy', async () => {
    const h = () => randomBytes(32).toString('hex');
    const [expired, live, forever, orphan, fresh] = [h(), h(), h(), h(), h()];
    const family = randomBytes(8).toString('hex');
    const { Client } = await import('pg');
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const copy = (hash: string, familyId: string | null, expires: string | null) =>
        client.query(`INSERT INTO oauth_tokens (token_hash, kind, environment, family_id, record, expires_at) VALUES ($1, 'access', $2, $3, '{}', ${expires ?? 'NULL'})`, [
          hash,
          environment,
          familyId,
        ]);
      await copy(expired, null, "now() - interval '1 minute'");
      await copy(live, family, "now() + interval '1 hour'");
      await copy(forever, null, null);
      const revoke = (subject: string, age: string) => client.query(`INSERT INTO oauth_token_revocations (subject, revoked_at) VALUES ($1, now() - interval '${age}')`, [subject]);
      await revoke(`token:${orphan}`, '2 days'); // its copy never came and never will
      await revoke(`token:${expired}`, '2 days'); // covers only an expired copy
      await revoke(`family:${family}`, '2 days'); // covers a live copy: still needed
      await revoke(`token:${forever}`, '2 days'); // covers a copy without expiry: still needed
      await revoke(`token:${fresh}`, '1 minute'); // its copy may still be on its way

      const pruned = await m.app.get(TokenPruner).prune();
      expect(pruned.copies).toBeGreaterThanOrEqual(1);
      const copies = (await client.query('SELECT token_hash FROM oauth_tokens WHERE token_hash = ANY($1)', [[expired, live, forever]])).rows.map((r) => r.token_hash);
      expect(copies.sort()).toEqual([live, forever].sort());
      const subjects = (
        await client.query('SELECT subject FROM oauth_token_revocations WHERE subject = ANY($1)', [
          [`token:${orphan}`, `token:${expired}`, `family:${family}`, `token:${forever}`, `token:${fresh}`],
        ])
      ).rows.map((r) => r.subject);
      expect(subjects.sort()).toEqual([`family:${family}`, `token:${forever}`, `token:${fresh}`].sort());
    } finally {
      await client.end();
    }
    // What stayed still answers as before: the revoked family's live copy stays revoked.
    expect(await firstValueFrom(bus.send(TOKEN_LOOKUP, { tokenHash: live, environment }))).toBeNull();
  });

  describe('malformed messages, parsed on receipt', () => {
    /** A `tokens.lookup` request as given, well-formed or not. */
    const ask = (request: unknown) => firstValueFrom(bus.send(TOKEN_LOOKUP, request));
    const randomHash = () => randomBytes(32).toString('hex');
    /** The queue without the job type: these jobs are what a well-behaved Gateway never sends. */
    const anyJob = (): Queue => queue;

    it('drops a malformed persistence job (completed, not retried, nothing written) and keeps working', async () => {
      const refused = randomHash();
      const issue = { op: 'issue', tokenHash: refused, kind: 'access', environment, familyId: null, record: {}, expiresAt: null };
      const malformed = [{ ...issue, kind: 'bearer' }, { ...issue, record: 'not a record' }, { ...issue, op: 'delete' }, { op: 'revoke' }];
      const jobs = await Promise.all(malformed.map((data) => anyJob().add('malformed', data)));
      for (const job of jobs)
        await eventually(
          () => job.getState(),
          (state) => state === 'completed',
          { what: `job ${job.id} dropped` },
        );
      expect(logs.filter((line) => line.includes('malformed token job dropped'))).toHaveLength(malformed.length);

      const accepted = randomHash();
      await anyJob().add('issue', { ...issue, tokenHash: accepted, record: { subject: 'alice' } });
      await eventually(
        () => ask({ tokenHash: accepted, environment }),
        (copy) => copy !== null,
        { what: 'the valid copy' },
      );
      expect(await ask({ tokenHash: refused, environment })).toBeNull();
    });

    it('answers a malformed lookup request with null and logs it', async () => {
      const before = logs.length;
      for (const request of [{ tokenHash: 42, environment }, { tokenHash: randomHash() }, 'just a string', [environment]]) {
        expect(await ask(request)).toBeNull();
      }
      expect(logs.slice(before).filter((line) => line.includes('malformed tokens.lookup request'))).toHaveLength(4);
    });
  });

  // BullMQ's blocking connection once stayed "reconnecting" for good after an outage longer than
  // its blocking wait (BullMQ issue 4585): the Manager would stop writing durable copies until restarted.
  it("keeps persisting copies after Redis was down for longer than the worker's blocking wait", async () => {
    await redis.stop();
    await new Promise((r) => setTimeout(r, 8_000)); // drainDelay 5 s plus BullMQ's 1 s watchdog, and a margin
    await redis.start(); // empty, as a Redis without persistence comes back
    const access = `at_${randomBytes(16).toString('hex')}`;
    const expiresAt = Date.now() + 60_000;
    await queue.add('issue', { op: 'issue', tokenHash: hash(access), kind: 'access', environment, familyId: null, record: { subject: 'alice' }, expiresAt });
    // Asked as a Gateway connecting after the outage would (this spec's Nest client does not reconnect).
    const after = ClientProxyFactory.create({ transport: Transport.REDIS, options: { host: '127.0.0.1', port: redis.port } });
    try {
      const found = await eventually(
        () => firstValueFrom(after.send(TOKEN_LOOKUP, { tokenHash: hash(access), environment })),
        (r) => r !== null,
        { what: 'the copy written after the outage', timeoutMs: 30_000 },
      );
      expect(found).toMatchObject({ kind: 'access', record: { subject: 'alice' } });
    } finally {
      await after.close();
    }
  }, 60_000);
});
