import { endUserRegistrationSettingsSchema, type EndUserRegistrationSettings } from '@idm/domain';
import { Controller, Get, Param, Put } from '@nestjs/common';
import { Contract, ContractBody } from '../../openapi/contract.decorator';
import { IdPipe } from '../../problems/id.pipe';
import { EndUserRegistrationSettingsService } from './end-user-registration-settings.service';

/** Whether people may create their own account on the OpenID Provider's login page, and whether they must confirm their email to sign in. */
@Controller('api/v1/projects/:projectId/end-user-registration')
export class EndUserRegistrationController {
  constructor(private readonly settings: EndUserRegistrationSettingsService) {}

  @Get()
  @Contract({ summary: "The project's end-user self-registration settings (off unless set)", response: endUserRegistrationSettingsSchema })
  get(@Param('projectId', IdPipe) projectId: string) {
    return this.settings.get(projectId);
  }

  @Put()
  @Contract({
    summary:
      'Turn self-registration on or off (on: the login page offers "Create account"; a verification mail goes to the new address; needs SMTP_URL), and whether signing in needs a verified email (requireVerifiedEmail, false when left out)',
    body: endUserRegistrationSettingsSchema,
    response: endUserRegistrationSettingsSchema,
  })
  put(@Param('projectId', IdPipe) projectId: string, @ContractBody() body: EndUserRegistrationSettings) {
    return this.settings.put(projectId, body);
  }
}
