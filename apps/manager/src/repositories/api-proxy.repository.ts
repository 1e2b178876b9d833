import { Injectable } from '@nestjs/common';
import { asc, eq } from 'drizzle-orm';
import { Database } from '../database/database';
import { apiProxies, environments, proxyDeployments } from '../database/schema';

export type ApiProxyRow = typeof apiProxies.$inferSelect;

/** Queries of the API proxy aggregate (proxies and their deployments). */
@Injectable()
export class ApiProxyRepository {
  constructor(private readonly database: Database) {}

  /** The proxies deployed in an environment, ordered by base path, with when each was deployed. */
  deployedIn(environment: string): Promise<{ proxy: ApiProxyRow; deployedAt: Date }[]> {
    return this.database.db
      .select({ proxy: apiProxies, deployedAt: proxyDeployments.deployedAt })
      .from(apiProxies)
      .innerJoin(proxyDeployments, eq(proxyDeployments.proxyId, apiProxies.id))
      .innerJoin(environments, eq(environments.id, proxyDeployments.environmentId))
      .where(eq(environments.name, environment))
      .orderBy(asc(apiProxies.basePath));
  }
}
