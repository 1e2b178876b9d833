import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { configChangedMessageSchema, type ConfigChangedMessage } from './config-changed.message';
import { encodeConfigChanged } from './config-changed.wire';
import { environmentConfigKeys } from './environment-config.keys';
import { EnvironmentConfigStore } from './environment-config.store';
import { newPublicationEpoch } from './publication-epoch';
import type { SnapshotCredential } from './snapshot.schema';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const credential = (id: string, enabled: boolean): SnapshotCredential => ({
  id,
  projectId: 'p1',
  username: `user-${id}-é`, // a multi-byte character: spans are bytes, not UTF-16 units
  passwordHash: null,
  enabled,
  expiresAt: null,
  apiKeys: [{ id: `k-${id}`, prefix: 'idm_abc', hash: 'f'.repeat(64), expiresAt: null }],
  roles: ['reader'],
  metadata: [{ key: 'tier', value: 'gold', secret: false, includeInJwt: true, includeInTokenResponse: false }],
  access: {},
  tokenSettings: null,
  digestHa1: null,
  truststore: [],
  endUser: null,
});

/** Bytes of an argument as MONITOR shows it (quotes and non-ASCII bytes escaped: `\\"`, `\\xc3`). */
const monitoredBytes = (a: string) => Buffer.byteLength(a.replace(/\\x[0-9a-f]{2}|\\./g, '.'));
/** RESP size of one command: what the client sent for it. */
const respBytes = (args: string[]) => args.reduce((n, a) => n + monitoredBytes(a) + String(monitoredBytes(a)).length + 5, String(args.length).length + 3);

/**
 * A change crosses the network once: the apply call carries each upserted entity once (inside the
 * wire text the script stores spans of and publishes), not a second time in a PUBLISH, and not
 * with the script's text (EVALSHA). Bounds the bytes a one-credential change sends to Redis.
 */
describe('EnvironmentConfigStore.apply with announce', () => {
  const environment = `announce-${randomBytes(4).toString('hex')}`;
  const channel = `config.changed.test.${environment}`;
  const name = `idm-announce-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL, { connectionName: name });
  const subscriber = new Redis(REDIS_URL);
  const control = new Redis(REDIS_URL);
  const store = new EnvironmentConfigStore(redis);
  const epoch = newPublicationEpoch();
  type Announced = { pattern: string; data: ConfigChangedMessage };
  const received: Announced[] = [];
  /** Resolves with the announcement of `revision` once the subscriber has it (pub/sub delivers after the call returns). */
  const announcement = (revision: number) =>
    new Promise<Announced>((resolve) => {
      const look = () => {
        const found = received.find((m) => m.data.revision === revision);
        if (found) return resolve(found);
        subscriber.once('message', () => setImmediate(look));
      };
      look();
    });
  const change = (revision: number, c: SnapshotCredential): ConfigChangedMessage => ({
    environment,
    epoch,
    revision,
    previousRevision: revision - 1,
    proxies: { upserted: [], removed: ['gone-proxy'] },
    credentials: { upserted: [c], removed: ['gone'] },
  });

  afterAll(async () => {
    await store.remove(environment);
    for (const r of [redis, subscriber, control]) r.disconnect();
  });

  it('encodes exactly what the bus transport publishes, spans pointing at each entity', () => {
    const message = { ...change(2, credential('c1', true)), signingKeys: [] };
    const wire = encodeConfigChanged('config.changed', message);
    expect(JSON.parse(wire.text)).toEqual({ pattern: 'config.changed', data: message });
    const bytes = Buffer.from(wire.text);
    const [span] = wire.credentials;
    expect(bytes.subarray(span.start - 1, span.end).toString()).toBe(JSON.stringify(credential('c1', true)));
  });

  it('stores, logs and publishes the change in one call, sending the entity once', async () => {
    expect(await store.replace(environment, { epoch, revision: 1, signingKeys: [], chunks: (async function* () {})() })).toBe(true);
    await subscriber.subscribe(channel);
    subscriber.on('message', (_c, text: string) => received.push(JSON.parse(text) as Announced));
    // First call: ioredis loads the script (EVALSHA, NOSCRIPT, EVAL); measured: the next one.
    expect(await store.apply(change(2, credential('c0', true)), { announce: channel })).toBe(true);

    const client = String(await control.client('LIST'))
      .split('\n')
      .find((line) => line.includes(`name=${name}`))!;
    const addr = /addr=(\S+)/.exec(client)![1];
    const monitor = await control.monitor();
    const sent: string[][] = [];
    /** MONITOR reports asynchronously, in execution order: a marker command closes what is counted. */
    const marked = new Promise<void>((resolve) =>
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (source !== addr) return;
        if (String(args[0]).toLowerCase() === 'echo') resolve();
        else sent.push(args.map(String));
      }),
    );
    const disabled = credential('c1', false);
    expect(await store.apply(change(3, disabled), { announce: channel })).toBe(true);
    await redis.echo('counted');
    await marked;
    monitor.disconnect();

    const entity = JSON.stringify(disabled);
    expect(sent.map((args) => args[0].toLowerCase())).toEqual(['evalsha']);
    // MONITOR shows arguments escaped (quotes, non-ASCII): the key hash stands for the entity.
    expect(sent[0].join(' ').split('f'.repeat(64))).toHaveLength(2);
    // The entity (~370 B, a little more as MONITOR escapes it), the message's envelope and ids, the seven keys; no script text.
    expect(respBytes(sent[0])).toBeLessThan(Buffer.byteLength(entity) + 900);

    expect(await redis.hget(environmentConfigKeys(environment).credentials, 'c1')).toBe(entity);
    expect((await store.changesSince(environment, epoch, 2))![0].credentials.upserted).toEqual([disabled]);
    const announced = await announcement(3);
    expect(announced.pattern).toBe(channel);
    expect(configChangedMessageSchema.parse(announced.data)).toEqual(change(3, disabled));
  });

  it('announces nothing when the change is refused (computed against another revision)', async () => {
    const before = (await control.pubsub('NUMSUB', channel)) as [string, number];
    expect(Number(before[1])).toBe(1);
    await announcement(3);
    const seen = received.length;
    expect(await store.apply(change(3, credential('c2', true)), { announce: channel })).toBe(false);
    // A later accepted change is the next thing subscribers see (one connection delivers in order): the refused one was never published.
    expect(await store.apply(change(4, credential('c3', true)), { announce: channel })).toBe(true);
    await announcement(4);
    expect(received.slice(seen).map((m) => m.data.revision)).toEqual([4]);
  });
});
