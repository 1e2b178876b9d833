import { VERIFIED_EMAIL_PROJECTS_KEY } from '@idm/config-bus';
import { Inject, Injectable } from '@nestjs/common';
import { ChangeWriter } from '../../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../../config/manager-config';
import { ProjectSetPublisher } from '../../config-publisher/project-set.publisher';
import { EndUserRegistrationRepository } from '../../repositories/end-user-registration.repository';

/**
 * The Redis set of projects whose end users must have a verified email to sign in: what the
 * Gateways' login page and password grants read, only for a user whose email is not verified.
 */
@Injectable()
export class VerifiedEmailProjectsPublisher extends ProjectSetPublisher {
  constructor(@Inject(MANAGER_CONFIG) config: ManagerConfig, rows: EndUserRegistrationRepository, writer: ChangeWriter) {
    super(config, writer, {
      key: VERIFIED_EMAIL_PROJECTS_KEY,
      entityKind: 'end_user_registration',
      what: 'projects requiring a verified email',
      connectionName: 'idm-manager-verified-email',
      load: () => rows.projectsRequiringVerifiedEmail(),
    });
  }
}
