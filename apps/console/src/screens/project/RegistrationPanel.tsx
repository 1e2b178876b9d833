import { Divider, Stack } from '@mantine/core';
import { InitialAccessTokensPanel } from './InitialAccessTokensPanel';
import { ProjectSettingsSection } from './ProjectSettingsSection';

/**
 * Who may register themselves with the project's OpenID Provider: people (an end-user account
 * through "Create account" on the login page) and applications (OIDC clients through dynamic
 * client registration, with one of the initial access tokens listed here).
 */
export function RegistrationPanel({ projectId }: { projectId: string }) {
  return (
    <Stack gap="xl">
      <ProjectSettingsSection
        projectId={projectId}
        resource="end-user-registration"
        title="End-user self-registration"
        intro='When on, the login page offers "Create account", and a verification mail goes to the new address (the Manager needs SMTP_URL).'
        submitLabel="Save self-registration"
        saved="Self-registration settings saved"
      />
      <Divider />
      <Stack>
        <ProjectSettingsSection
          projectId={projectId}
          resource="client-registration"
          title="Dynamic client registration"
          intro="When on, applications holding an initial access token register their own OIDC clients at each Gateway's /credential/register (RFC 7591), and manage them with the registration access token they get back."
          submitLabel="Save client registration"
          saved="Client registration settings saved"
        />
        <InitialAccessTokensPanel projectId={projectId} />
      </Stack>
    </Stack>
  );
}
