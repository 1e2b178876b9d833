import type { EndUserMailSent } from '@idm/domain';
import { Injectable } from '@nestjs/common';
import { ChangeWriter } from '../../audit/change-writer';
import { PermissionService } from '../../governance/permission.service';
import { ProblemError } from '../../problems/problem.error';
import { CredentialRepository } from '../../repositories/credential.repository';
import { EndUserMailer } from './end-user-mailer';
import { EndUserSelfService } from './end-user-self-service.service';

const mailUnavailable = (detail: string) => new ProblemError(503, 'mail_not_configured', 'Mail unavailable', detail, undefined, undefined, { 'retry-after': '60' });

/**
 * An operator sends a user the verification or the password reset mail (credential:write on the
 * user): the user acts on the link, the operator never sees a token. Audited as
 * `end_user_mail.<purpose>` (nothing a Gateway holds changes).
 */
@Injectable()
export class EndUserMails {
  constructor(
    private readonly credentials: CredentialRepository,
    private readonly permissions: PermissionService,
    private readonly changes: ChangeWriter,
    private readonly mailer: EndUserMailer,
    private readonly selfService: EndUserSelfService,
  ) {}

  async send(projectId: string, id: string, purpose: 'verify-email' | 'reset-password'): Promise<EndUserMailSent> {
    const user = await this.credentials.find(projectId, id);
    if (!user?.endUser) {
      this.permissions.check('credential:read', { projectId });
      throw ProblemError.notFound('end_user', id);
    }
    this.permissions.check('credential:write', user);
    if (!user.email) throw ProblemError.conflict('end_user_without_email', 'the end user has no email address to send the mail to', 'email');
    if (purpose === 'reset-password' && user.endUser.identitySourceId)
      throw ProblemError.conflict('end_user_federated', "the end user's password belongs to its identity source's directory; reset it there");
    // The link would be refused when used: say so now.
    if (purpose === 'reset-password' && !user.enabled) throw ProblemError.conflict('end_user_disabled', 'the end user is disabled; enable it before sending a password reset');
    if (purpose === 'verify-email' && user.endUser.emailVerified) throw ProblemError.conflict('email_already_verified', "the end user's email is already verified", 'email');
    if (!this.mailer.configured) throw mailUnavailable('SMTP_URL and END_USER_PAGES_URL must both be set to send end users mail');
    const sent = await this.selfService.mail(purpose, user);
    if (!sent) throw mailUnavailable('the SMTP server did not accept the mail; try again later');
    const result = { sentTo: sent.sentTo, expiresAt: sent.expiresAt.toISOString() };
    await this.changes.write(async () => ({
      result: undefined,
      change: { action: purpose.replace('-', '_'), entityKind: 'end_user_mail', entityId: id, projectId, teamId: user.teamId, before: null, after: result },
    }));
    return result;
  }
}
