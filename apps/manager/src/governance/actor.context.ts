import { AsyncLocalStorage } from 'node:async_hooks';
import { PERMISSIONS, type ActorType, type ChangeSource, type Grant } from '@idm/domain';

/** Who is acting: a user through an entry point, or the system itself (jobs, bootstrap). */
export interface Actor {
  id: string | null;
  type: ActorType;
  name: string;
  source: ChangeSource;
  ip: string | null;
  correlationId: string | null;
  grants: readonly Grant[];
}

const storage = new AsyncLocalStorage<Actor>();

/**
 * The actor travels with the async flow of a request, so repositories and the PermissionService
 * find it without any caller passing it along (and so no caller can forget it).
 */
export const ActorContext = {
  run<T>(actor: Actor, work: () => T): T {
    return storage.run(actor, work);
  },
  current(): Actor {
    const actor = storage.getStore();
    if (!actor) throw new Error('no actor in context: wrap background work in ActorContext.run(systemActor(...), ...)');
    return actor;
  },
};

/** Code that runs with no user (boot, jobs) names itself explicitly. */
export function systemActor(name: string): Actor {
  return {
    id: null,
    type: 'system',
    name,
    source: 'system',
    ip: null,
    correlationId: null,
    grants: [{ permissions: new Set<string>(PERMISSIONS), scope: { type: 'system', id: null }, projectId: null }],
  };
}
