import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import {
  snapshotCredentialSchema,
  snapshotIdentitySourceSchema,
  snapshotKeyManagerSchema,
  snapshotProxySchema,
  snapshotSigningKeySchema,
  type ConfigSnapshot,
} from './snapshot.schema';

/**
 * The channel (and @nestjs/microservices event pattern) an environment's changes are announced
 * on. One per environment, so a Gateway subscribes to its own environment only: a change in
 * another environment never reaches it (one channel for all made every Gateway receive, and
 * parse, every environment's changes). The environment is a hash tag, as in its keys
 * (environment-config.keys.ts): on a Redis Cluster the channel maps to the slot of the
 * environment's keys, which sharded pub/sub (SPUBLISH from the apply script) would require.
 */
export function configChangedChannel(environment: string): string {
  return `idm:config:{${environment}}:changed`;
}

export interface EntityChanges<T> {
  upserted: T[];
  removed: string[];
}

const changes = <T extends z.ZodType>(entity: T) => z.strictObject({ upserted: z.array(entity), removed: z.array(z.string()) });

/**
 * Published after every committed change that alters an environment's snapshot. It carries the
 * delta from `previousRevision` so a Gateway on that revision applies it in place; any other
 * Gateway reloads the whole snapshot.
 *
 * Strict on purpose: a field a Gateway does not know would be lost if it were stripped and the
 * rest applied, so such a message (like any that fails) is treated as a gap and the whole
 * snapshot is reloaded instead, where the schema version decides.
 */
export const configChangedMessageSchema = z.strictObject({
  environment: z.string(),
  /** Publication epoch of `revision`; a Gateway on another epoch reloads the snapshot instead of applying the delta. */
  epoch: z.string().min(1),
  revision: z.number().int().nonnegative(),
  previousRevision: z.number().int().nonnegative(),
  proxies: changes(snapshotProxySchema),
  credentials: changes(snapshotCredentialSchema),
  /** The whole (short) key list, present only when it changed. */
  signingKeys: z.array(snapshotSigningKeySchema).optional(),
  /** The whole (short) list of key managers, present only when it changed. */
  keyManagers: z.array(snapshotKeyManagerSchema).optional(),
  /** The whole (short) list of identity sources, present only when it changed. */
  identitySources: z.array(snapshotIdentitySourceSchema).optional(),
  /** The environment was replaced as a whole (new epoch, or Redis had lost it): every Gateway reloads. */
  full: z.literal(true).optional(),
});
export type ConfigChangedMessage = z.infer<typeof configChangedMessageSchema>;

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
  // Snapshots built before key managers existed carry none.
  const keyManagersChanged = !isDeepStrictEqual(before?.keyManagers ?? [], after.keyManagers ?? []);
  const identitySourcesChanged = !isDeepStrictEqual(before?.identitySources ?? [], after.identitySources ?? []);
  const empty = (c: EntityChanges<unknown>) => c.upserted.length === 0 && c.removed.length === 0;
  if (before && before.epoch === after.epoch && empty(proxies) && empty(credentials) && !keysChanged && !keyManagersChanged && !identitySourcesChanged) return null;
  return {
    environment: after.environment,
    epoch: after.epoch,
    revision: after.revision,
    previousRevision: before?.revision ?? 0,
    proxies,
    credentials,
    ...(keysChanged ? { signingKeys: after.signingKeys } : {}),
    ...(keyManagersChanged ? { keyManagers: after.keyManagers } : {}),
    ...(identitySourcesChanged ? { identitySources: after.identitySources } : {}),
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
    keyManagers: message.keyManagers ?? snapshot.keyManagers ?? [],
    identitySources: message.identitySources ?? snapshot.identitySources ?? [],
  };
}
