import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { AuthenticatedRequest } from '../auth/operator-auth.guard';
import { ActorContext, type Actor } from './actor.context';

/** Runs every handler inside its request's actor context (anonymous for public routes). */
@Injectable()
export class ActorInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const actor: Actor = request.actor ?? {
      id: null,
      type: 'user',
      name: 'anonymous',
      source: 'rest',
      ip: request.ip,
      correlationId: String(request.id),
      grants: [],
    };
    return new Observable((subscriber) => ActorContext.run(actor, () => next.handle().subscribe(subscriber)));
  }
}
