import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ChangeWriter } from '../audit/change-writer';
import { ActorContext, systemActor } from '../governance/actor.context';
import { SigningKeyRepository } from '../repositories/signing-key.repository';

/** Longest sleep between sweeps: a retirement scheduled by another Manager is found by then. */
const SWEEP_AT_LEAST_EVERY_MS = 60 * 60 * 1000;

/**
 * Drops retired signing keys once their `published_until` has passed: the private half is
 * destroyed, each drop is audited (`signing_key.delete`, system actor), and the environment is
 * republished so the key leaves the snapshot. Gateways already stop trusting a key at that instant
 * (their key ring checks the time); this keeps the sealed key out of Redis and the database.
 * Wakes at the earliest retirement it knows of, after every rotation, and at least hourly; with
 * several Managers the one whose delete finds the row audits it.
 */
@Injectable()
export class SigningKeySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SigningKeySweeper');
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly keys: SigningKeyRepository,
    private readonly changes: ChangeWriter,
  ) {}

  onApplicationBootstrap(): void {
    void this.run();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Sets the timer to the earliest retirement (call after a rotation commits). */
  async reschedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.keys.nextRetirement();
    const wait = next ? Math.max(0, next.getTime() - Date.now()) : SWEEP_AT_LEAST_EVERY_MS;
    clearTimeout(this.timer);
    if (this.stopped) return;
    // Plus a millisecond: the key must be past its instant, not at it.
    this.timer = setTimeout(() => void this.run(), Math.min(wait + 1, SWEEP_AT_LEAST_EVERY_MS)).unref();
  }

  /** Deletes every key past its publication; returns the kids dropped. */
  async sweep(now = new Date()): Promise<string[]> {
    const due = await this.keys.retiredIds(now);
    const dropped: string[] = [];
    await ActorContext.run(systemActor('signing-key-sweeper'), async () => {
      for (const id of due) {
        const kid = await this.changes.write(async (tx) => {
          const row = await this.keys.deleteRetired(tx, id, now);
          if (!row) return { result: null, change: null }; // another Manager dropped it first
          return { result: row.kid, change: { action: 'delete', entityKind: 'signing_key', entityId: row.id, projectId: null, before: row, after: null } };
        });
        if (kid) dropped.push(kid);
      }
    });
    if (dropped.length) this.logger.log(`dropped ${dropped.length} retired signing key(s): ${dropped.join(', ')}`);
    return dropped;
  }

  private async run(): Promise<void> {
    try {
      await this.sweep();
    } catch (err) {
      this.logger.warn(`signing key sweep failed: ${(err as Error).message}`);
    }
    try {
      await this.reschedule();
    } catch (err) {
      this.logger.warn(`signing key sweep rescheduling failed: ${(err as Error).message}`);
      if (!this.stopped) this.timer = setTimeout(() => void this.run(), SWEEP_AT_LEAST_EVERY_MS).unref();
    }
  }
}
