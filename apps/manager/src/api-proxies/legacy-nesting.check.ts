import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { and, asc, ne, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { Database } from '../database/database';
import { apiProxies } from '../database/schema';

/**
 * Base paths nesting across projects are refused on every write (base-path-claim.ts), but pairs
 * written before that rule still route part of one project's traffic to the other's upstream.
 * They are reported at boot, loudly, for an operator to move one of the two; nothing is changed
 * automatically (either proxy may be the one its callers rely on).
 */
@Injectable()
export class LegacyNestingCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('BasePaths');

  constructor(private readonly database: Database) {}

  async onApplicationBootstrap(): Promise<void> {
    const inner = alias(apiProxies, 'inner_proxy');
    const pairs = await this.database.db
      .select({ outer: apiProxies.basePath, inner: inner.basePath })
      .from(apiProxies)
      .innerJoin(inner, and(ne(inner.projectId, apiProxies.projectId), sql`starts_with(${inner.basePath}, ${apiProxies.basePath} || '/')`))
      .orderBy(asc(apiProxies.basePath), asc(inner.basePath));
    for (const pair of pairs) {
      this.logger.warn(
        `base path '${pair.inner}' nests inside '${pair.outer}' of another project (written before this was refused): ` +
          `the Gateways send '${pair.inner}/...' to the inner proxy's upstream; move one of them`,
      );
    }
  }
}
