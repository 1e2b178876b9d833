import type { FastifyInstance } from 'fastify';
import type { ContractRouteConfig } from '../openapi/contract.decorator';

/**
 * A route whose @Contract names a larger `bodyLimit` (bulk import) gets it; every other route
 * keeps MANAGER_BODY_LIMIT. Must be installed before the routes are registered (app.init).
 */
export function installRouteBodyLimits(fastify: FastifyInstance, defaultLimit: number): void {
  fastify.addHook('onRoute', (route) => {
    const limit = (route.config as ContractRouteConfig | undefined)?.bodyLimit;
    if (limit) route.bodyLimit = Math.max(limit, defaultLimit);
  });
}
