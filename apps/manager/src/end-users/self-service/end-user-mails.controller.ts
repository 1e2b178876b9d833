import { endUserMailSentSchema } from '@idm/domain';
import { Controller, Param, Post } from '@nestjs/common';
import { Contract } from '../../openapi/contract.decorator';
import { IdPipe } from '../../problems/id.pipe';
import { EndUserMails } from './end-user-mails.service';

@Controller('api/v1/projects/:projectId/users/:userId')
export class EndUserMailsController {
  constructor(private readonly mails: EndUserMails) {}

  @Post('verification-mail')
  @Contract({
    summary: 'Send the end user a mail with a link that verifies their email (single use, 24 h); 503 mail_not_configured without SMTP_URL',
    status: 200,
    response: endUserMailSentSchema,
  })
  verification(@Param('projectId', IdPipe) projectId: string, @Param('userId', IdPipe) userId: string) {
    return this.mails.send(projectId, userId, 'verify-email');
  }

  @Post('password-reset-mail')
  @Contract({
    summary: 'Send the end user a mail with a link to choose a new password (single use, 30 min); 503 mail_not_configured without SMTP_URL',
    status: 200,
    response: endUserMailSentSchema,
  })
  passwordReset(@Param('projectId', IdPipe) projectId: string, @Param('userId', IdPipe) userId: string) {
    return this.mails.send(projectId, userId, 'reset-password');
  }
}
