import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * Brute-force blocks of an environment: what the Gateways' failure detectors decided, what
 * every Gateway mirrors in memory and what admins list and lift through the Manager.
 *
 * Redis (every key in one Cluster slot through the hash tag `{idm:bf:<env>}`):
 * - `blocks`  HASH   block id -> block JSON (below), the blocks in force
 * - `until`   ZSET   block id -> until (epoch ms), to prune ended blocks
 * - `n:<id>`  STRING failures counted in the detector's window for that subject (expires with it)
 * - `s:<id>`  STRING strikes: how many times the subject was blocked lately (the next lockout doubles)
 * - `events`  pub/sub channel: `{"block":…}` when a block starts, `{"lift":…}` when an admin lifts one
 */
export const BRUTE_FORCE_DETECTORS = ['credential', 'address', 'credential-address'] as const;
export type BruteForceDetector = (typeof BRUTE_FORCE_DETECTORS)[number];

export const bruteForceBlockSchema = z.object({
  /** Stable per detector and subject (a hash): the same subject blocked again keeps its id. */
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  detector: z.enum(BRUTE_FORCE_DETECTORS),
  /** How a Gateway finds the block on a request: `<detector>\u0000<subject>`. */
  key: z.string().min(1),
  /** The credential guessed at: a username (proxy policies), `client:<id>` or `owner:<client id>:<username>` (token endpoints); null for an address block. */
  credential: z.string().nullable(),
  /** The project whose credential was guessed at (proxy policies); null when it is not known (addresses, token endpoints). */
  projectId: z.string().nullable(),
  address: z.string().nullable(),
  /** Where the failure that reached the threshold was counted: `proxy`, or the token surface `credential` / `auth`. */
  source: z.string(),
  failures: z.number().int().nonnegative(),
  /** 1 for a first block; each block within the strike memory doubles the lockout. */
  strike: z.number().int().positive(),
  /** Epoch milliseconds. */
  blockedAt: z.number(),
  until: z.number(),
});
export type BruteForceBlock = z.infer<typeof bruteForceBlockSchema>;

/** A message on `events`; a malformed one is reported and ignored by its receiver. */
export const bruteForceEventSchema = z.union([z.strictObject({ block: bruteForceBlockSchema }), z.strictObject({ lift: z.strictObject({ id: z.string(), key: z.string() }) })]);
export type BruteForceEvent = z.infer<typeof bruteForceEventSchema>;

export interface BruteForceKeys {
  prefix: string;
  blocks: string;
  until: string;
  events: string;
}

export function bruteForceKeys(environment: string): BruteForceKeys {
  const prefix = `{idm:bf:${environment}}`;
  return { prefix, blocks: `${prefix}:blocks`, until: `${prefix}:until`, events: `${prefix}:events` };
}

/** The lookup key of a detector's subject (see `BruteForceBlock.key`). */
export const blockKey = (detector: BruteForceDetector, subject: string): string => `${detector}\u0000${subject}`;

/** The block id of a lookup key: short and URL-safe, whatever the caller put in a username. */
export const blockIdOf = (key: string): string => createHash('sha256').update(key).digest('base64url').slice(0, 22);
