import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CONTRACT, type RouteContract } from '../openapi/contract.decorator';
import { ProblemError } from '../problems/problem.error';
import type { Actor } from '../governance/actor.context';
import { GrantRepository } from '../repositories/grant.repository';
import type { EarlyAuthenticatedRequest } from './early-authentication.hook';
import { OperatorAuthService } from './operator-auth.service';

export type AuthenticatedRequest = EarlyAuthenticatedRequest & { actor?: Actor };

export const unauthenticated = () => new ProblemError(401, 'unauthenticated', 'Authentication required', 'send Authorization: Bearer <token> from POST /api/v1/auth/login');

export function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/**
 * Global guard: every route needs an operator session unless its @Contract says public. The
 * session was already checked before the body was parsed (installEarlyAuthentication); the guard
 * turns it into the actor with its grants, and authenticates itself only if the hook did not run.
 */
@Injectable()
export class OperatorAuthGuard implements CanActivate {
  constructor(
    private readonly auth: OperatorAuthService,
    private readonly grants: GrantRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true; // bus messages come from Gateways inside the trust boundary
    const contract = Reflect.getMetadata(CONTRACT, context.getHandler()) as RouteContract | undefined;
    if (contract?.public) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = request.operator ? undefined : bearerToken(request);
    const operator = request.operator ?? (token ? await this.auth.authenticate(token) : undefined);
    if (!operator) throw unauthenticated();
    request.actor = {
      id: operator.id,
      type: 'user',
      name: operator.username,
      // The console labels its calls so the audit says where a change came from (a label, not a privilege);
      // entry points that are not plain REST (APIops) re-scope the actor themselves.
      source: request.headers['x-idm-client'] === 'console' ? 'ui' : 'rest',
      ip: request.ip,
      correlationId: String(request.id),
      grants: await this.grants.grantsOf(operator.id),
    };
    return true;
  }
}
