import { createHash, randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { z } from 'zod';
import { configChangedChannel, type ConfigChangedMessage } from './config-changed.message';
import { encodeConfigChanged } from './config-changed.wire';
import { environmentConfigKeys, stagingKeys } from './environment-config.keys';
import {
  configSnapshotSchema,
  SNAPSHOT_SCHEMA_VERSION,
  snapshotIdentitySourceSchema,
  snapshotKeyManagerSchema,
  snapshotProxySchema,
  snapshotSigningKeySchema,
  UnsupportedSnapshotVersionError,
  type ConfigSnapshot,
  type SnapshotCredential,
  type SnapshotIdentitySource,
  type SnapshotKeyManager,
  type SnapshotProxy,
  type SnapshotSigningKey,
} from './snapshot.schema';
import { parseStoredCredential } from './stored-credential';

export type RedisClient = Redis | Cluster;

interface ScriptedRedis {
  idmApplyConfigChange(...keysAndArgs: (string | number)[]): Promise<number>;
  idmStoredDigests(key: string, ...ids: string[]): Promise<(string | null)[]>;
}

/** The client with the scripts defined on it (once per client). */
function scripted(redis: RedisClient): ScriptedRedis {
  if (!('idmApplyConfigChange' in redis)) {
    redis.defineCommand('idmApplyConfigChange', { numberOfKeys: 7, lua: APPLY_CHANGE });
    redis.defineCommand('idmStoredDigests', { numberOfKeys: 1, lua: STORED_DIGESTS });
  }
  return redis as unknown as ScriptedRedis;
}

/** SHA-1 (hex) of a stored entity's JSON, as `storedDigests` compares it: `redis.sha1hex` of the same bytes. */
export const entityDigest = (json: string): string => createHash('sha1').update(json).digest('hex');

/**
 * The SHA-1 of each given field's value (nil where absent): what the Manager compares its rows
 * with before a change. 40 bytes per entity come back instead of its JSON (~450 B per
 * credential), which was the largest reply of a one-credential change and, in a
 * reconciliation, a page's whole JSON.
 */
const STORED_DIGESTS = `
local values = redis.call('HMGET', KEYS[1], unpack(ARGV))
local out = {}
for i = 1, #ARGV do
  if values[i] then out[i] = redis.sha1hex(values[i]) else out[i] = false end
end
return out`;

/** Where an environment's stored configuration stands, read without the configuration itself. */
export interface ConfigHead {
  epoch: string;
  revision: number;
}

/** Entities per change at most: one change is one Lua call, whose argument list Redis bounds. */
export const MAX_ENTITIES_PER_CHANGE = 2_000;
/** Entities written or parsed per round trip / between two yields to the event loop. */
const CHUNK = 1_000;
/**
 * Entities per HSCAN of a Gateway's load. Smaller than CHUNK: the client decodes a whole reply in
 * one turn as it arrives (at 1,000 credentials, ~300 KB: 10-30 ms of a stall, issue #13), and the
 * next chunk is asked for while this one is parsed, so the round trips cost no time.
 */
const LOAD_CHUNK = 250;
/** Longest stretch of parsing between two yields while loading (the target is "no stall over 50 ms"). */
const SLICE_MS = 5;
/**
 * Log entries read per round trip when replaying: an entry holds up to MAX_ENTITIES_PER_CHANGE
 * entities, so a catch-up over thousands of them is never one multi-megabyte reply decoded and
 * parsed in one turn of the event loop (issue #13: no stall over 50 ms; 8 entries of a Manager's
 * 1,000-credential pages were ~2.4 MB decoded at once, and held until replayed). The next entry
 * is asked for while one is replayed, so the round trips cost no time.
 */
const LOG_PAGE = 1;
/** Log entries kept per environment: a Gateway further behind than this reloads in full. */
const DEFAULT_LOG_LENGTH = 10_000;
/** A full load racing this many full replacements gives up (the caller retries later). */
const LOAD_ATTEMPTS = 5;

/**
 * One change, applied atomically: only on top of the revision it was computed against
 * (`previous` = the stored revision, same epoch), so the log is an unbroken chain and a change
 * computed from a stale read is refused rather than applied out of order. The log entry holds
 * each entity once (`p+<id>` / `c+<id>` -> JSON, `p-<id>` / `c-<id>` for removals, `keys`, `keyManagers`, `identitySources`).
 * Upserted entities arrive once, inside the change's wire text (ARGV[8], config-changed.wire.ts),
 * as (id, start, end) spans of it; with a channel (ARGV[9]) the script publishes that text too,
 * so the change and its announcement are one call and one copy of each entity.
 */
const APPLY_CHANGE = `
local head = redis.call('HMGET', KEYS[1], 'epoch', 'revision')
if head[1] ~= ARGV[1] or head[2] ~= ARGV[3] then return 0 end
local entry = {'epoch', ARGV[1], 'previous', ARGV[3]}
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[4], ARGV[5])
  entry[#entry + 1] = 'keys'; entry[#entry + 1] = ARGV[5]
end
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[6], ARGV[6])
  entry[#entry + 1] = 'keyManagers'; entry[#entry + 1] = ARGV[6]
end
if ARGV[7] ~= '' then
  redis.call('SET', KEYS[7], ARGV[7])
  entry[#entry + 1] = 'identitySources'; entry[#entry + 1] = ARGV[7]
end
local wire = ARGV[8]
local i = 10
local function upserts(key, tag)
  local n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do
    local json = string.sub(wire, tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]))
    redis.call('HSET', key, ARGV[i], json)
    entry[#entry + 1] = tag .. '+' .. ARGV[i]; entry[#entry + 1] = json
    i = i + 3
  end
end
local function removals(key, tag)
  local n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do
    redis.call('HDEL', key, ARGV[i])
    entry[#entry + 1] = tag .. '-' .. ARGV[i]; entry[#entry + 1] = ''
    i = i + 1
  end
end
upserts(KEYS[2], 'p'); removals(KEYS[2], 'p'); upserts(KEYS[3], 'c'); removals(KEYS[3], 'c')
redis.call('HSET', KEYS[1], 'revision', ARGV[2])
redis.call('XADD', KEYS[5], 'MAXLEN', ARGV[4], ARGV[2] .. '-1', unpack(entry))
if ARGV[9] ~= '' then redis.call('PUBLISH', ARGV[9], wire) end
return 1`;

/**
 * Swaps a fully written staging copy in, if (epoch, revision) is newer than what is stored: a
 * newer epoch (fresh or restored database, publication-epoch.ts) supersedes any revision, within
 * one epoch only a higher revision does; epochs compare as strings here exactly as in TypeScript.
 * The log restarts with a `full` entry, so a Gateway following it knows to reload.
 */
const SWAP_IN = `
local head = redis.call('HMGET', KEYS[1], 'epoch', 'revision')
local newer = (not head[1]) or ARGV[1] > head[1] or (ARGV[1] == head[1] and tonumber(ARGV[2]) > tonumber(head[2]))
if not newer then redis.call('DEL', KEYS[6], KEYS[7]); return 0 end
for k = 2, 3 do
  if redis.call('EXISTS', KEYS[k + 4]) == 1 then redis.call('RENAME', KEYS[k + 4], KEYS[k]) else redis.call('DEL', KEYS[k]) end
end
redis.call('SET', KEYS[4], ARGV[4])
redis.call('SET', KEYS[8], ARGV[5])
redis.call('SET', KEYS[9], ARGV[6])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'revision', ARGV[2], 'schemaVersion', ARGV[3])
redis.call('DEL', KEYS[5])
redis.call('XADD', KEYS[5], ARGV[2] .. '-1', 'epoch', ARGV[1], 'previous', '-1', 'full', '1')
return 1`;

/** What a full replacement writes: entities in any number of chunks, so nothing is held whole. */
export interface EnvironmentContents {
  epoch: string;
  revision: number;
  signingKeys: SnapshotSigningKey[];
  /** Absent: none (writers from before key managers). */
  keyManagers?: SnapshotKeyManager[];
  /** Absent: none (writers from before identity sources). */
  identitySources?: SnapshotIdentitySource[];
  chunks: AsyncIterable<{ proxies?: SnapshotProxy[]; credentials?: SnapshotCredential[] }>;
}

/**
 * An environment's published configuration in Redis, as entities rather than one document: a
 * change writes and a Gateway reads only what changed (O(change)), a Gateway that missed
 * revisions replays them from the log, and only one that fell behind the log (or crossed an
 * epoch) loads everything, in chunks. Shared by the Manager (writer) and the Gateways (readers).
 */
export class EnvironmentConfigStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly logLength = DEFAULT_LOG_LENGTH,
  ) {}

  async head(environment: string): Promise<ConfigHead | null> {
    const [epoch, revision, version] = await this.redis.hmget(environmentConfigKeys(environment).head, 'epoch', 'revision', 'schemaVersion');
    if (epoch === null || revision === null) return null;
    if (Number(version) !== SNAPSHOT_SCHEMA_VERSION) throw new UnsupportedSnapshotVersionError(version === null ? null : Number(version), { epoch, revision: Number(revision) });
    return { epoch, revision: Number(revision) };
  }

  /**
   * Applies `change` on top of `change.previousRevision` of the same epoch; false when the store is
   * elsewhere (the caller recomputes from a fresh read, or replaces everything). With `announce`
   * (a bus pattern: the environment's `configChangedChannel`), the same atomic call publishes the
   * change to the environment's Gateways as the @nestjs/microservices Redis transport would:
   * nothing is announced that was not stored.
   */
  async apply(change: ConfigChangedMessage, options: { announce?: string } = {}): Promise<boolean> {
    const entities = change.proxies.upserted.length + change.proxies.removed.length + change.credentials.upserted.length + change.credentials.removed.length;
    if (entities > MAX_ENTITIES_PER_CHANGE) throw new RangeError(`a change carries at most ${MAX_ENTITIES_PER_CHANGE} entities, not ${entities}`);
    const k = environmentConfigKeys(change.environment);
    const wire = encodeConfigChanged(options.announce ?? configChangedChannel(change.environment), change);
    const args: (string | number)[] = [
      change.epoch,
      change.revision,
      change.previousRevision,
      this.logLength,
      change.signingKeys ? JSON.stringify(change.signingKeys) : '',
      change.keyManagers ? JSON.stringify(change.keyManagers) : '',
      change.identitySources ? JSON.stringify(change.identitySources) : '',
      wire.text,
      options.announce ?? '',
    ];
    for (const [spans, removed] of [
      [wire.proxies, change.proxies.removed],
      [wire.credentials, change.credentials.removed],
    ] as const) {
      args.push(spans.length);
      for (const { id, start, end } of spans) args.push(id, start, end);
      args.push(removed.length, ...removed);
    }
    // EVALSHA (ioredis falls back to EVAL once per connection): the script's text is not resent with every change.
    const applied = await scripted(this.redis).idmApplyConfigChange(k.head, k.proxies, k.credentials, k.keys, k.log, k.keyManagers, k.identitySources, ...args);
    return applied === 1;
  }

  /** Writes everything to staging keys, then swaps them in atomically if still newer. */
  async replace(environment: string, contents: EnvironmentContents): Promise<boolean> {
    const k = environmentConfigKeys(environment);
    const staging = stagingKeys(environment, randomBytes(6).toString('hex'));
    try {
      for await (const chunk of contents.chunks) {
        for (const [key, entities] of [
          [staging.proxies, chunk.proxies ?? []],
          [staging.credentials, chunk.credentials ?? []],
        ] as const) {
          for (let i = 0; i < entities.length; i += CHUNK) {
            const fields = entities.slice(i, i + CHUNK).flatMap((e) => [e.id, JSON.stringify(e)]);
            await this.redis.hset(key, ...fields);
          }
        }
      }
      const swapped = await this.redis.eval(
        SWAP_IN,
        9,
        k.head,
        k.proxies,
        k.credentials,
        k.keys,
        k.log,
        staging.proxies,
        staging.credentials,
        k.keyManagers,
        k.identitySources,
        contents.epoch,
        contents.revision,
        SNAPSHOT_SCHEMA_VERSION,
        JSON.stringify(contents.signingKeys),
        JSON.stringify(contents.keyManagers ?? []),
        JSON.stringify(contents.identitySources ?? []),
      );
      return swapped === 1;
    } finally {
      await this.redis.del(staging.proxies, staging.credentials).catch(() => undefined);
    }
  }

  /**
   * The changes after `revision` of `epoch`, in order; null when the log does not reach back that
   * far (trimmed, restarted by a full replacement, or another epoch): then only a full load helps.
   */
  async changesSince(environment: string, epoch: string, revision: number): Promise<ConfigChangedMessage[] | null> {
    const changes: ConfigChangedMessage[] = [];
    return (await this.replaySince(environment, epoch, revision, (change) => void changes.push(change))) ? changes : null;
  }

  /**
   * `changesSince`, each change handed to `each` as it is parsed instead of collected: a load's
   * replay of hundreds of pages published meanwhile (a Manager reconciling a million
   * credentials) never holds them all as objects, which scavenges copied and promoted (50-90 ms
   * pauses, issue #13). false when the log does not reach back; `each` may then have seen some.
   */
  private async replaySince(environment: string, epoch: string, revision: number, each: (change: ConfigChangedMessage) => void | Promise<void>): Promise<boolean> {
    const log = environmentConfigKeys(environment).log;
    let previous = revision;
    // An entry may hold MAX_ENTITIES_PER_CHANGE entities: the clock is read after each.
    const slice = new Slice(1);
    // Entries are the revision's own ids (`<revision>-1`). A read ahead is handled at once: it is
    // never awaited when the log turns out not to reach back.
    const read = (from: number) => {
      const reply = this.redis.xrange(log, `${from}-0`, '+', 'COUNT', LOG_PAGE);
      reply.catch(() => undefined);
      return reply;
    };
    let pending = read(previous + 1);
    for (;;) {
      const entries = await pending;
      if (entries.length === LOG_PAGE) pending = read(Number(entries[entries.length - 1][0].split('-')[0]) + 1);
      for (const [id, fields] of entries) {
        const change = logEntryToChange(environment, Number(id.split('-')[0]), fields);
        if (change === null || change.epoch !== epoch || change.previousRevision !== previous) return false;
        await each(change);
        previous = change.revision;
        if (slice.due()) await slice.next();
      }
      if (entries.length < LOG_PAGE) break;
    }
    if (previous !== revision) return true;
    const head = await this.head(environment);
    return head !== null && head.epoch === epoch && head.revision === revision;
  }

  /**
   * Everything stored, read in chunks (HSCAN) with a yield to the event loop after each, so a
   * million credentials never stall the process for long. Changes written meanwhile are replayed
   * from the log on top (upserts and removals are idempotent); a full replacement meanwhile
   * restarts the read. null: nothing stored.
   */
  async load(environment: string): Promise<ConfigSnapshot | null> {
    const loaded = await this.loadInto(environment, () => new CredentialMap());
    return loaded && { ...loaded.snapshot, credentials: [...loaded.credentials.values()] };
  }

  /**
   * `load`, with the credentials handed to a sink one at a time as they are read (each parsed
   * object can die young) instead of collected: the Gateway puts them straight into its compact
   * credential directory, so a full load never holds a million credential objects. The returned
   * snapshot's `credentials` is empty; `newSink` is called again when the read restarts.
   */
  async loadInto<S extends CredentialSink>(environment: string, newSink: () => S): Promise<{ snapshot: ConfigSnapshot; credentials: S } | null> {
    for (let attempt = 0; attempt < LOAD_ATTEMPTS; attempt++) {
      const head = await this.head(environment);
      if (head === null) return null;
      const k = environmentConfigKeys(environment);
      const proxies = new Map<string, SnapshotProxy>();
      await this.scan(k.proxies, (json) => {
        const proxy = snapshotProxySchema.parse(JSON.parse(json));
        proxies.set(proxy.id, proxy);
      });
      const credentials = newSink();
      await this.scan(k.credentials, (json) => credentials.upsert(parseStoredCredential(json)));
      const keysJson = await this.redis.get(k.keys);
      const keyManagersJson = await this.redis.get(k.keyManagers);
      const identitySourcesJson = await this.redis.get(k.identitySources);
      let signingKeys = snapshotSigningKeySchema.array().parse(JSON.parse(keysJson ?? '[]'));
      let keyManagers = snapshotKeyManagerSchema.array().parse(JSON.parse(keyManagersJson || '[]'));
      let identitySources = snapshotIdentitySourceSchema.array().parse(JSON.parse(identitySourcesJson || '[]'));
      let revision = head.revision;
      // What was published during the read (a Manager reconciling: hundreds of pages at 1M),
      // replayed as it is read, with yields like the read itself: the sink is not served yet,
      // so a log that turns out not to reach back just restarts the load with a new one.
      const slice = new Slice(64);
      const reached = await this.replaySince(environment, head.epoch, head.revision, async (change) => {
        applyEntityChanges(proxies, change.proxies);
        for (const id of change.credentials.removed) {
          credentials.remove(id);
          if (slice.due()) await slice.next();
        }
        for (const credential of change.credentials.upserted) {
          credentials.upsert(credential);
          if (slice.due()) await slice.next();
        }
        signingKeys = change.signingKeys ?? signingKeys;
        keyManagers = change.keyManagers ?? keyManagers;
        identitySources = change.identitySources ?? identitySources;
        revision = change.revision;
      });
      if (!reached) continue;
      const snapshot: ConfigSnapshot = {
        schemaVersion: SNAPSHOT_SCHEMA_VERSION,
        environment,
        epoch: head.epoch,
        revision,
        generatedAt: new Date().toISOString(),
        proxies: [...proxies.values()],
        credentials: [],
        signingKeys,
        keyManagers,
        identitySources,
      };
      return { snapshot, credentials };
    }
    throw new Error(`the configuration of ${environment} was replaced ${LOAD_ATTEMPTS} times while it was being read`);
  }

  /** Ids (and stored JSON) of one kind, in chunks: what the Manager compares its rows with. */
  async *storedEntities(environment: string, kind: 'proxies' | 'credentials'): AsyncGenerator<[id: string, json: string][]> {
    const key = environmentConfigKeys(environment)[kind];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', CHUNK);
      cursor = next;
      const pairs: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]]);
      if (pairs.length > 0) yield pairs;
    } while (cursor !== '0');
  }

  /** Stored JSON of the given ids (null where absent), for comparing before a change. */
  async storedValues(environment: string, kind: 'proxies' | 'credentials', ids: string[]): Promise<(string | null)[]> {
    if (ids.length === 0) return [];
    return this.redis.hmget(environmentConfigKeys(environment)[kind], ...ids);
  }

  /**
   * `entityDigest` of the stored JSON of the given ids (null where absent), for comparing before
   * a change without reading the entities back.
   */
  async storedDigests(environment: string, kind: 'proxies' | 'credentials', ids: string[]): Promise<(string | null)[]> {
    if (ids.length === 0) return [];
    return scripted(this.redis).idmStoredDigests(environmentConfigKeys(environment)[kind], ...ids);
  }

  /** The stored signing keys' JSON, null when none were ever stored. */
  storedKeys(environment: string): Promise<string | null> {
    return this.redis.get(environmentConfigKeys(environment).keys);
  }

  /** The stored identity sources' JSON, null when none were ever stored. */
  storedIdentitySources(environment: string): Promise<string | null> {
    return this.redis.get(environmentConfigKeys(environment).identitySources);
  }

  /** The stored key managers' JSON, null when none were ever stored. */
  storedKeyManagers(environment: string): Promise<string | null> {
    return this.redis.get(environmentConfigKeys(environment).keyManagers);
  }

  /**
   * A whole snapshot in one go (tests, benchmarks, small environments): `replace` with one chunk.
   * Parsed first, so what is stored is exactly what a Gateway will accept (defaults filled in).
   */
  write(input: z.input<typeof configSnapshotSchema>): Promise<boolean> {
    const snapshot = configSnapshotSchema.parse(input);
    const { proxies, credentials } = snapshot;
    return this.replace(snapshot.environment, {
      epoch: snapshot.epoch,
      revision: snapshot.revision,
      signingKeys: snapshot.signingKeys,
      keyManagers: snapshot.keyManagers,
      identitySources: snapshot.identitySources,
      chunks: (async function* () {
        yield { proxies, credentials };
      })(),
    });
  }

  async remove(environment: string): Promise<void> {
    const k = environmentConfigKeys(environment);
    await this.redis.del(k.head, k.proxies, k.credentials, k.keys, k.keyManagers, k.identitySources, k.log);
  }

  /** The one-document layout before schema version 3 (`idm:config:<env>:snapshot` and its head keys), left by an upgrade. */
  async removeLegacyLayout(environment: string): Promise<void> {
    // One key per call: on a Cluster the three are in different slots.
    for (const suffix of ['snapshot', 'revision', 'epoch']) await this.redis.del(`idm:config:${environment}:${suffix}`);
  }

  /** Every stored value of a hash, each handed to `each` (HSCAN may hand one twice: `each` must not mind). */
  private async scan(key: string, each: (json: string) => void): Promise<void> {
    // Handled at once: when `each` throws, the read ahead is never awaited, and its rejection
    // (Redis gone meanwhile) must not become an unhandled one.
    const ask = (cursor: string) => {
      const reply = this.redis.hscan(key, cursor, 'COUNT', LOAD_CHUNK);
      reply.catch(() => undefined);
      return reply;
    };
    let pending = ask('0');
    let cursor: string;
    do {
      const [next, flat] = await pending;
      cursor = next;
      if (cursor !== '0') pending = ask(cursor);
      let sliceStart = performance.now();
      for (let i = 1; i < flat.length; i += 2) {
        const json = flat[i];
        // Dropped from the reply as soon as it is handed on: the reply lives across the slices'
        // yields, and strings it still held were copied by every scavenge meanwhile and promoted
        // (~500 B per credential of old-generation garbage, bench/README.md "full-load garbage").
        flat[i - 1] = flat[i] = '';
        each(json);
        if (i % 64 === 63 && performance.now() - sliceStart >= SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
      }
      await yieldToEventLoop();
    } while (cursor !== '0');
  }
}

/** Work with a yield to the event loop once per SLICE_MS: `due()` after each item (the clock is read every `checkEvery`), then `await next()` when true. */
class Slice {
  private start = performance.now();
  private items = 0;

  constructor(private readonly checkEvery: number) {}

  due(): boolean {
    return ++this.items % this.checkEvery === 0 && performance.now() - this.start >= SLICE_MS;
  }

  async next(): Promise<void> {
    await yieldToEventLoop();
    this.start = performance.now();
  }
}

/** What `loadInto` hands credentials to: upserts and removals by id, each idempotent. */
export interface CredentialSink {
  upsert(credential: SnapshotCredential): void;
  remove(id: string): void;
}

/** The sink `load` collects into. */
class CredentialMap extends Map<string, SnapshotCredential> implements CredentialSink {
  upsert(credential: SnapshotCredential): void {
    this.set(credential.id, credential);
  }

  remove(id: string): void {
    this.delete(id);
  }
}

function applyEntityChanges<T extends { id: string }>(into: Map<string, T>, changes: { upserted: T[]; removed: string[] }): void {
  for (const id of changes.removed) into.delete(id);
  for (const entity of changes.upserted) into.set(entity.id, entity);
}

/** A log entry as the change it records; null for the `full` entry a replacement starts with. */
function logEntryToChange(environment: string, revision: number, fields: string[]): ConfigChangedMessage | null {
  const change: ConfigChangedMessage = {
    environment,
    epoch: '',
    revision,
    previousRevision: -1,
    proxies: { upserted: [], removed: [] },
    credentials: { upserted: [], removed: [] },
  };
  for (let i = 0; i < fields.length; i += 2) {
    const [name, value] = [fields[i], fields[i + 1]];
    if (name === 'full') return null;
    if (name === 'epoch') change.epoch = value;
    else if (name === 'previous') change.previousRevision = Number(value);
    else if (name === 'keys') change.signingKeys = snapshotSigningKeySchema.array().parse(JSON.parse(value));
    else if (name === 'keyManagers') change.keyManagers = snapshotKeyManagerSchema.array().parse(JSON.parse(value));
    else if (name === 'identitySources') change.identitySources = snapshotIdentitySourceSchema.array().parse(JSON.parse(value));
    else {
      const target = name[0] === 'p' ? change.proxies : change.credentials;
      if (name[1] === '-') target.removed.push(name.slice(2));
      else if (name[0] === 'p') change.proxies.upserted.push(snapshotProxySchema.parse(JSON.parse(value)));
      else change.credentials.upserted.push(parseStoredCredential(value));
    }
  }
  return change;
}
