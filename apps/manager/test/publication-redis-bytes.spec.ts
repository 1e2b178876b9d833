import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { configChangedChannel } from '@idm/config-bus';
import { eventually, freePort, RedisProcess } from '@idm/test-kit';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * Issue #13's target: a one-credential change sends < 8 KB over Redis with two Gateways. What it
 * must send: the credential's JSON once to Redis (the apply call, which stores, logs and publishes
 * it) and once to each Gateway (the `config.changed` delivery), plus ids, revisions and keys.
 * Counted here on a private redis-server (INFO's net byte counters: every command and reply, pub/sub
 * deliveries included), for a PATCH through the Manager with two subscribers standing for the
 * Gateways and a second environment that does not show the credential (as in bench/scale.mjs).
 * Measured with a 616-byte credential: 4,854 B before (the Manager read the stored JSON back to
 * compare, a fourth copy, and sent its audit diff on `idm:audit:live`), 3,956 B since it reads a
 * 40-byte digest and the audit message names the row: 3 copies + ~2.1 KB of ids, keys and envelopes.
 */
const OVERHEAD_BYTES = 2_400;

describe('bytes over Redis of a one-credential PATCH (postgres, private redis-server)', () => {
  const suffix = randomBytes(4).toString('hex');
  const shown = `bytes-a-${suffix}`;
  const other = `bytes-b-${suffix}`;
  let redisServer: RedisProcess;
  let database: TestDatabase;
  let manager: InProcessManager;
  let control: Redis;
  const gateways: Redis[] = [];
  const received: string[][] = [[], []];
  let projectId: string;
  let credentialId: string;

  /** Bytes in + out of the whole server so far (the INFO command and its reply included). */
  const netBytes = async () => {
    const stats = await control.info('stats');
    const read = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(stats)![1]);
    return read('total_net_input_bytes') + read('total_net_output_bytes');
  };

  beforeAll(async () => {
    redisServer = new RedisProcess(await freePort());
    await redisServer.start();
    control = new Redis(redisServer.url);
    database = await createTestDatabase('postgres');
    manager = await startInProcessManager(database, { REDIS_URL: redisServer.url });
    for (const name of [shown, other]) expect((await manager.request('POST', '/api/v1/environments', { name })).status).toBe(201);
    projectId = (await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` })).body.id;
    const proxy = { name: 'p', basePath: `/bytes-${suffix}`, upstreamUrl: 'http://127.0.0.1:9', environments: [shown] };
    expect((await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, proxy)).status).toBe(201);
    const created = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'alice', roles: ['reader'] });
    expect(created.status).toBe(201);
    credentialId = created.body.id;
    expect((await manager.request('POST', `/api/v1/projects/${projectId}/credentials/${credentialId}/api-keys`, {})).status).toBe(201);
    for (const [i] of received.entries()) {
      const gateway = new Redis(redisServer.url);
      await gateway.subscribe(configChangedChannel(shown));
      gateway.on('message', (_channel, text: string) => received[i].push(text));
      gateways.push(gateway);
    }
  }, 120_000);

  afterAll(async () => {
    for (const r of [...gateways, control]) r?.disconnect();
    await manager?.close();
    await database?.drop();
    await redisServer?.stop();
  }, 60_000);

  it('sends the credential three times (apply, two deliveries) and little else', async () => {
    const calibrate = async () => (await netBytes()) - (await netBytes()); // one INFO's own bytes, negated
    const perChange: number[] = [];
    let entityBytes = 0;
    for (const enabled of [false, true, false, true, false]) {
      const seen = received.map((r) => r.length);
      const infoCost = -(await calibrate());
      const before = await netBytes();
      expect((await manager.request('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialId}`, { enabled })).status).toBe(200);
      // The PATCH answers after its publication; the deliveries to the subscribers are counted once they arrived.
      await eventually(async () => received.every((r, i) => r.length > seen[i]), Boolean, { what: 'both subscribers got the change' });
      perChange.push((await netBytes()) - before - infoCost);
      const message = JSON.parse(received[0].at(-1)!) as { data: { credentials: { upserted: { id: string; enabled: boolean }[] } } };
      const [upserted] = message.data.credentials.upserted;
      expect(upserted).toMatchObject({ id: credentialId, enabled });
      entityBytes = Buffer.byteLength(JSON.stringify(upserted));
    }
    // The least of five: the Manager's idle traffic (a queue's blocking poll) can fall into one window.
    const bytes = Math.min(...perChange);
    const bound = 3 * entityBytes + OVERHEAD_BYTES;
    if (bytes >= bound) throw new Error(`${bytes} B per change (each: ${perChange.join(', ')}), bound ${bound} B (entity ${entityBytes} B)`);
    expect(bytes).toBeLessThan(8_192);
  }, 120_000);
});
