import { randomBytes } from 'node:crypto';

/**
 * A publication epoch names one line of revisions of an environment: the database that counts
 * them (a fresh database starts a new epoch) and, after a backup restore, the point where the
 * count went backwards (the Manager starts a new epoch rather than reuse revisions Gateways
 * have already seen). Publications are ordered by (epoch, revision); a newer epoch supersedes
 * any revision of an older one.
 *
 * Format: creation time in milliseconds, base 36 and zero-padded so that string order is time
 * order (the same comparison in TypeScript and in the Redis Lua script), then random bits so two
 * epochs started in the same millisecond still differ.
 */
const TIME_WIDTH = 10;

export function newPublicationEpoch(after?: string | null, now = Date.now()): string {
  const floor = after ? epochTime(after) + 1 : 0;
  const time = Math.max(now, floor);
  return `${time.toString(36).padStart(TIME_WIDTH, '0')}.${randomBytes(6).toString('hex')}`;
}

function epochTime(epoch: string): number {
  const time = parseInt(epoch.slice(0, TIME_WIDTH), 36);
  return Number.isFinite(time) ? time : 0;
}
