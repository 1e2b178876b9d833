import { TOKEN_LOOKUP, TOKEN_PERSIST_QUEUE } from '@idm/config-bus';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { firstValueFrom } from 'rxjs';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { eventually, freePort, RedisProcess } from './support/processes';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * The Manager parses the Gateways' token messages on receipt: a malformed BullMQ job or
 * `tokens.lookup` request is logged and dropped (answered with null); the consumer goes on.
 */
describe('malformed token messages', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  let queue: Queue;
  let bus: ClientProxy;
  let redis: RedisProcess;
  const logs: string[] = [];
  const environment = `tok-${randomBytes(3).toString('hex')}`;
  const hash = () => randomBytes(32).toString('hex');

  beforeAll(async () => {
    // A private Redis: any other Manager on a shared one would compete for the queue and the bus.
    redis = new RedisProcess(await freePort());
    await redis.start();
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database, { REDIS_URL: redis.url, LOG_LEVEL: 'warn' }, { logDestination: { write: (line: string) => void logs.push(line) } });
    await m.app.startAllMicroservices();
    queue = new Queue(TOKEN_PERSIST_QUEUE, { connection: { host: '127.0.0.1', port: redis.port } });
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

  const lookup = (request: unknown) => firstValueFrom(bus.send(TOKEN_LOOKUP, request));

  it('drops a malformed persistence job (completed, not retried, nothing written) and keeps working', async () => {
    const refused = hash();
    const issue = { op: 'issue', tokenHash: refused, kind: 'access', environment, familyId: null, record: {}, expiresAt: null };
    const malformed = [{ ...issue, kind: 'bearer' }, { ...issue, record: 'not a record' }, { ...issue, op: 'delete' }, { op: 'revoke' }];
    const jobs = await Promise.all(malformed.map((data) => queue.add('malformed', data)));
    for (const job of jobs) await eventually(() => job.getState(), (state) => state === 'completed', { what: `job ${job.id} dropped` });
    expect(logs.filter((line) => line.includes('malformed token job dropped'))).toHaveLength(malformed.length);

    const accepted = hash();
    await queue.add('issue', { ...issue, tokenHash: accepted, record: { subject: 'alice' } });
    await eventually(() => lookup({ tokenHash: accepted, environment }), (copy) => copy !== null, { what: 'the valid copy' });
    expect(await lookup({ tokenHash: refused, environment })).toBeNull();
  });

  it('answers a malformed lookup request with null and logs it', async () => {
    const before = logs.length;
    for (const request of [{ tokenHash: 42, environment }, { tokenHash: hash() }, 'just a string', [environment]]) {
      expect(await lookup(request)).toBeNull();
    }
    expect(logs.slice(before).filter((line) => line.includes('malformed tokens.lookup request'))).toHaveLength(4);
  });
});
