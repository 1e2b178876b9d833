import type { Client } from 'ldapts';
import { SourceUnavailableError } from './identity-check';

interface Idle {
  client: Client;
  timer: NodeJS.Timeout;
}

interface Waiter {
  resolve: (client: Client | null) => void;
  timer: NodeJS.Timeout;
}

/**
 * A few connections bound as the service account, reused for the search step of
 * search-then-bind, so a login does not pay a connection, TLS and a service bind for it. Only
 * service-account work runs on them: a user's bind changes a connection's identity, so users
 * bind on connections of their own. Bounded (`size` open at most; a caller waits for one, within
 * the source's timeout), closed after `idleTimeoutMs` unused, and a broken one is discarded: one
 * whose socket closed (the directory restarted) is never handed out, since ldapts would silently
 * reconnect it unbound, and one whose work failed is closed rather than put back.
 */
export class LdapConnectionPool {
  private readonly idle: Idle[] = [];
  private readonly waiters: Waiter[] = [];
  /** Connections out and idle. */
  private open = 0;
  private closed = false;
  /** How many connections this pool opened and bound (service binds that succeeded): what a test or a metric reads. */
  opened = 0;

  constructor(
    /** Opens a connection and binds it as the service account. */
    private readonly connect: () => Promise<Client>,
    private readonly size: number,
    private readonly idleTimeoutMs: number,
    private readonly waitMs: number,
  ) {}

  /**
   * Runs `work` on a pooled connection. A connection taken from the idle list that fails is
   * replaced once by a fresh one (it may have died while idle, unseen); a fresh one that fails
   * reports the failure.
   */
  async use<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const { client, reused } = await this.acquire();
    try {
      const result = await this.run(client, work);
      this.release(client);
      return result;
    } catch (err) {
      this.discard(client);
      if (!reused || err instanceof SourceUnavailableError) throw err;
    }
    const fresh = await this.acquire(true);
    try {
      const result = await this.run(fresh.client, work);
      this.release(fresh.client);
      return result;
    } catch (err) {
      this.discard(fresh.client);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(null);
    }
    await Promise.all(this.idle.splice(0).map(({ client, timer }) => (clearTimeout(timer), this.end(client))));
  }

  /** ldapts reconnects an unconnected client on its own, unbound: checked in the same tick as the call it guards. */
  private run<T>(client: Client, work: (client: Client) => Promise<T>): Promise<T> {
    if (!client.isConnected) return Promise.reject(new Error('the pooled connection was closed'));
    return work(client);
  }

  private async acquire(freshOnly = false): Promise<{ client: Client; reused: boolean }> {
    if (this.closed) throw new SourceUnavailableError('source_unavailable', 'the LDAP source was replaced');
    while (!freshOnly && this.idle.length > 0) {
      const { client, timer } = this.idle.pop()!;
      clearTimeout(timer);
      if (client.isConnected) return { client, reused: true };
      this.discard(client);
    }
    if (this.open >= this.size) {
      const client = await this.waitForOne();
      if (client) return { client, reused: true };
      if (this.open >= this.size) throw new SourceUnavailableError('source_timeout', `no pooled LDAP connection came free within ${this.waitMs} ms`);
    }
    this.open++;
    try {
      const client = await this.connect();
      this.opened++;
      return { client, reused: false };
    } catch (err) {
      this.open--;
      throw err;
    }
  }

  /** A connection handed over by a release, or null when the wait timed out or a slot came free instead. */
  private waitForOne(): Promise<Client | null> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          resolve(null);
        }, this.waitMs),
      };
      this.waiters.push(waiter);
    });
  }

  private release(client: Client): void {
    if (this.closed || !client.isConnected) return this.discard(client);
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      return waiter.resolve(client);
    }
    const timer = setTimeout(() => {
      const i = this.idle.findIndex((e) => e.client === client);
      if (i >= 0) this.idle.splice(i, 1);
      this.discard(client);
    }, this.idleTimeoutMs);
    timer.unref();
    this.idle.push({ client, timer });
  }

  private discard(client: Client): void {
    this.open--;
    void this.end(client);
    // A slot came free: a waiter opens its own connection.
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(null);
    }
  }

  private end(client: Client): Promise<void> {
    return client.unbind().catch(() => undefined);
  }
}
