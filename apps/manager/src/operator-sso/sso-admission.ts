import { Injectable, Logger } from '@nestjs/common';
import type { SourceIdentity } from '@idm/identity-sources';
import { createHash, timingSafeEqual } from 'node:crypto';
import { OperatorAuthService } from '../auth/operator-auth.service';
import { ProblemError } from '../problems/problem.error';
import type { IdentitySourceRow } from '../repositories/identity-source.repository';
import { FederatedOperators } from './federated-operators';
import { SsoLoginStore, type SsoHandoff } from './sso-login-store';

/** How long the operator may take at the IdP. */
export const PENDING_TTL_SECONDS = 600;
/** How long the console has to collect the result after the final redirect (one page load). */
export const HANDOFF_TTL_SECONDS = 60;

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const sameDigest = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The browser that comes back holds the binding cookie whose digest the pending sign-in kept; else `sso_state_mismatch`. */
export function requireSameBrowser(browserKey: string | undefined, digest: string): void {
  if (!browserKey || browserKey.length > 128 || !sameDigest(sha256(browserKey), digest))
    throw new ProblemError(403, 'sso_state_mismatch', 'The sign-in was started elsewhere', 'this sign-in was not started by this browser; start again from the sign-in page');
}

/**
 * What every single sign-on ends with, whatever the protocol (OIDC callback, SAML ACS and
 * continuation): the operator an IdP vouched for is provisioned as a password source's
 * (FederatedOperators: its groups' bindings become its roles) and must hold at least one role;
 * the outcome, a signed-in operator or a refusal as a problem, is what the console collects once
 * with `POST /auth/sso/session`, where the session is opened as a password login's.
 */
@Injectable()
export class SsoAdmission {
  private readonly logger = new Logger('OperatorSso');

  constructor(
    private readonly store: SsoLoginStore,
    private readonly federated: FederatedOperators,
    private readonly auth: OperatorAuthService,
  ) {}

  /** The operator `identity` names at `row`, provisioned, with at least one Manager role. */
  async admit(row: IdentitySourceRow, identity: SourceIdentity): Promise<{ id: string; username: string }> {
    const operator = await this.federated.provision(row, identity, { requireBinding: true });
    if (operator.bindings === 0)
      throw new ProblemError(
        403,
        'operator_no_role_binding',
        'No Manager role for your groups',
        `none of your groups at '${row.name}' is bound to a Manager role; ask an administrator to map one of your groups`,
      );
    return { id: operator.id, username: operator.username };
  }

  /** The outcome of a sign-in step for the console: the operator it admitted, or its refusal. */
  async settle(sourceName: string, step: () => Promise<{ id: string; username: string }>): Promise<SsoHandoff> {
    try {
      return { outcome: 'signed-in', operator: await step(), source: sourceName };
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      this.logger.warn(`operator SSO through ${sourceName} refused: ${err.code}`);
      return refusalOf(err);
    }
  }

  /** The console's collection of a sign-in's outcome: a new session, or the refusal as a problem. */
  async collect(handoffKey: string | undefined) {
    const handoff = handoffKey && handoffKey.length <= 128 ? await this.store.takeHandoff(handoffKey) : null;
    if (!handoff)
      throw new ProblemError(401, 'sso_handoff_invalid', 'No sign-in to complete', 'this single sign-on was already completed, expired or never started here; sign in again');
    if (handoff.outcome === 'refused') {
      const { status, code, title, detail } = handoff.problem;
      throw new ProblemError(status, code, title, detail);
    }
    const session = await this.auth.openSession(handoff.operator, `sso:${handoff.source}`);
    return { ...session, username: handoff.operator.username };
  }
}

export function refusalOf(err: ProblemError): SsoHandoff {
  return { outcome: 'refused', problem: { status: err.status, code: err.code, title: err.title, detail: err.detail } };
}
