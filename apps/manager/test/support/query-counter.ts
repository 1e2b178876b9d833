import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from 'pg';

export interface QueryCounter {
  /** Runs `work` and returns the SQL of every statement the pg clients sent on its behalf. */
  statementsOf(work: () => Promise<unknown>): Promise<string[]>;
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
  const scope = new AsyncLocalStorage<string[]>();
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    scope.getStore()?.push(typeof first === 'string' ? first : (first?.text ?? '?'));
    return original.apply(this, args);
  };
  return {
    statementsOf: async (work) => {
      const statements: string[] = [];
      await scope.run(statements, work);
      return statements;
    },
    restore: () => {
      proto.query = original;
    },
  };
}
