import { CLIENT_REGISTRATION_PROJECTS_KEY } from '@idm/config-bus';
import { Inject, Injectable } from '@nestjs/common';
import { ChangeWriter } from '../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { ProjectSetPublisher } from '../config-publisher/project-set.publisher';
import { ClientRegistrationRepository } from '../repositories/client-registration.repository';

/** The Redis set of projects that accept dynamic registrations: what makes the Gateways' discovery name a `registration_endpoint`. */
@Injectable()
export class RegistrationProjectsPublisher extends ProjectSetPublisher {
  constructor(@Inject(MANAGER_CONFIG) config: ManagerConfig, rows: ClientRegistrationRepository, writer: ChangeWriter) {
    super(config, writer, {
      key: CLIENT_REGISTRATION_PROJECTS_KEY,
      entityKind: 'client_registration_settings',
      what: 'projects accepting client registrations',
      connectionName: 'idm-manager-client-registration',
      load: () => rows.enabledProjects(),
    });
  }
}
