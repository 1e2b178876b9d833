import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from 'pg';

/** One statement as a pg client sent it: its SQL and its parameters. */
export interface SentStatement {
  text: string;
  values: unknown[];
}

export interface QueryCounter {
  /** Runs `work` and returns the SQL of every statement the pg clients sent on its behalf. */
  statementsOf(work: () => Promise<unknown>): Promise<string[]>;
  /** Like `statementsOf`, with each statement's parameters (to run it again, e.g. under EXPLAIN). */
  sentDuring(work: () => Promise<unknown>): Promise<SentStatement[]>;
  /** Puts pg's query method back. */
  restore(): void;
}

/**
 * Counts the SQL statements an in-process Manager sends to a real PostgreSQL server. It wraps
 * pg's Client#query (the one method every pooled query and transaction goes through) and keeps
 * the statements issued inside `statementsOf`'s async context only: a timer of the Manager (token
 * pruner, signing-key sweeper, a reconciliation queued at boot) firing meanwhile is not counted.
 */
export function countQueries(): QueryCounter {
  const scope = new AsyncLocalStorage<SentStatement[]>();
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    // query(text | config, values?): drizzle passes a config with the values beside it.
    const first = args[0] as string | { text?: string; values?: unknown[] } | undefined;
    const values = Array.isArray(args[1]) ? (args[1] as unknown[]) : typeof first === 'object' ? (first.values ?? []) : [];
    const statement = { text: typeof first === 'string' ? first : (first?.text ?? '?'), values };
    scope.getStore()?.push(statement);
    return original.apply(this, args);
  };
  const sentDuring = async (work: () => Promise<unknown>) => {
    const statements: SentStatement[] = [];
    await scope.run(statements, work);
    return statements;
  };
  return {
    sentDuring,
    statementsOf: async (work) => (await sentDuring(work)).map((s) => s.text),
    restore: () => {
      proto.query = original;
    },
  };
}
