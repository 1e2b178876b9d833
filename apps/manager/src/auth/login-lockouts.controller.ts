import { Controller, Delete } from '@nestjs/common';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ChangeWriter } from '../audit/change-writer';
import { PermissionService } from '../governance/permission.service';
import { Contract, ContractQuery } from '../openapi/contract.decorator';
import { LoginThrottle } from '../throttling/login-throttle';

export const lockoutQuerySchema = z.strictObject({
  /** The client address as the Manager sees it: the socket peer, or behind MANAGER_TRUST_PROXY the X-Forwarded-For client. */
  address: z
    .string()
    .refine((a) => isIP(a) !== 0, 'must be an IPv4 or IPv6 address')
    // The refinement above, as JSON Schema formats.
    .meta({ anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] }),
  username: z.string().min(1).max(128).optional(),
});
type LockoutQuery = z.infer<typeof lockoutQuerySchema>;

/**
 * The way out of a login lockout without waiting: a system admin (user:write at system scope)
 * lifts the lockout of an address, and of one username there. Audited like every change; the
 * limits are per Manager process, so with several Managers the call goes to each.
 */
@Controller('api/v1/auth/lockouts')
export class LoginLockoutsController {
  constructor(
    private readonly throttle: LoginThrottle,
    private readonly permissions: PermissionService,
    private readonly changes: ChangeWriter,
  ) {}

  @Delete()
  @Contract({ summary: 'Lift the login lockout of an address, and of one username at it', query: lockoutQuerySchema, status: 204 })
  async unlock(@ContractQuery() query: LockoutQuery): Promise<void> {
    this.permissions.check('user:write', { projectId: null });
    const lockout = { address: query.address, ...(query.username !== undefined && { username: query.username }) };
    await this.changes.write(() =>
      Promise.resolve({ result: undefined, change: { action: 'unlock', entityKind: 'login-lockout', entityId: null, projectId: null, before: lockout, after: null } }),
    );
    await this.throttle.unlock(query.address, query.username);
  }
}
