import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ContractRouteConfig } from '../openapi/contract.decorator';
import { bearerToken, unauthenticated } from './operator-auth.guard';
import type { Operator, OperatorAuthService } from './operator-auth.service';

export type EarlyAuthenticatedRequest = FastifyRequest & { operator?: Operator };

/**
 * Authenticates the operator session in Fastify's onRequest hook, before the body is read or
 * parsed: an anonymous request to a non-public route is a 401, whatever body it carries (a
 * malformed or empty JSON body used to answer 400 first, and parsing work was done for nobody).
 * OperatorAuthGuard then builds the actor from `request.operator`. Unmatched URLs pass on to the
 * 404 handler; routes marked public by @Contract pass unauthenticated.
 */
export function installEarlyAuthentication(fastify: FastifyInstance, auth: OperatorAuthService): void {
  fastify.addHook('onRequest', async (request: EarlyAuthenticatedRequest) => {
    if (request.routeOptions.url === undefined || (request.routeOptions.config as ContractRouteConfig | undefined)?.public) return;
    const token = bearerToken(request);
    const operator = token ? await auth.authenticate(token) : undefined;
    if (!operator) throw unauthenticated();
    request.operator = operator;
  });
}
