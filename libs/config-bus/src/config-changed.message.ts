import { isDeepStrictEqual } from 'node:util';
import type { ConfigSnapshot, SnapshotCredential, SnapshotProxy, SnapshotSigningKey } from './snapshot.schema';

/** Event pattern on the @nestjs/microservices Redis transport. */
export const CONFIG_CHANGED = 'config.changed';

export interface EntityChanges<T> {
  upserted: T[];
  removed: string[];
}

/**
 * Published after every committed change that alters an environment's snapshot. It carries the
 * delta from `previousRevision` so a Gateway on that revision applies it in place; any other
 * Gateway reloads the whole snapshot.
 */
export interface ConfigChangedMessage {
  environment: string;
  /** Publication epoch of `revision`; a Gateway on another epoch reloads the snapshot instead of applying the delta. */
  epoch: string;
  revision: number;
  previousRevision: number;
  proxies: EntityChanges<SnapshotProxy>;
  credentials: EntityChanges<SnapshotCredential>;
  /** The whole (short) key list, present only when it changed. */
  signingKeys?: SnapshotSigningKey[];
}

/**
 * Compares entities by value, not by their JSON text: the Manager's builder and the schema that
 * parsed the stored snapshot put keys in different orders, and text comparison made every
 * credential look changed on every publication.
 */
function diffById<T extends { id: string }>(before: T[], after: T[]): EntityChanges<T> {
  const old = new Map(before.map((e) => [e.id, e]));
  const upserted = after.filter((e) => !isDeepStrictEqual(old.get(e.id), e));
  const kept = new Set(after.map((e) => e.id));
  return { upserted, removed: before.filter((e) => !kept.has(e.id)).map((e) => e.id) };
}

function applyById<T extends { id: string }>(items: T[], changes: EntityChanges<T>): T[] {
  const gone = new Set([...changes.removed, ...changes.upserted.map((e) => e.id)]);
  return [...items.filter((e) => !gone.has(e.id)), ...changes.upserted];
}

/**
 * The delta that turns `before` into `after`, or null when nothing a Gateway sees changed.
 * A change of epoch is always a change (Gateways must move to the new line of revisions).
 */
export function diffSnapshots(before: ConfigSnapshot | null, after: ConfigSnapshot): ConfigChangedMessage | null {
  const proxies = diffById(before?.proxies ?? [], after.proxies);
  const credentials = diffById(before?.credentials ?? [], after.credentials);
  const keysChanged = !isDeepStrictEqual(before?.signingKeys ?? [], after.signingKeys);
  const empty = (c: EntityChanges<unknown>) => c.upserted.length === 0 && c.removed.length === 0;
  if (before && before.epoch === after.epoch && empty(proxies) && empty(credentials) && !keysChanged) return null;
  return {
    environment: after.environment,
    epoch: after.epoch,
    revision: after.revision,
    previousRevision: before?.revision ?? 0,
    proxies,
    credentials,
    ...(keysChanged ? { signingKeys: after.signingKeys } : {}),
  };
}

/** Applies a delta in place of a reload; only valid when `message.previousRevision === snapshot.revision`. */
export function applyConfigChange(snapshot: ConfigSnapshot, message: ConfigChangedMessage): ConfigSnapshot {
  return {
    ...snapshot,
    revision: message.revision,
    generatedAt: new Date().toISOString(),
    proxies: applyById(snapshot.proxies, message.proxies),
    credentials: applyById(snapshot.credentials, message.credentials),
    signingKeys: message.signingKeys ?? snapshot.signingKeys,
  };
}
