import { api } from '../../api/client';
import type { Credential } from '../../api/types';
import { SchemaFormBody } from './SchemaFormBody';

const CREDENTIAL = '/api/v1/projects/{projectId}/credentials/{credentialId}';

/** ACL, IP groups, geo, time windows, rate limits and quotas of one credential, as the credential API's `access` schema says them. */
export function CredentialRulesForm({ projectId, credential, onDone }: { projectId: string; credential: Credential; onDone: () => void }) {
  return (
    <SchemaFormBody
      contract={{ method: 'PATCH', path: CREDENTIAL, pointer: ['properties', 'access'] }}
      bodyPath="access"
      initial={credential.access}
      idPrefix="rules"
      intro="The rules are checked on every call after the credential authenticates; saving replaces all of them, and an empty section removes it."
      save={(access) => api('PATCH', `/projects/${projectId}/credentials/${credential.id}`, { access })}
      saved={`Rules of ${credential.username} saved`}
      submitLabel="Save rules"
      invalidate={[['credentials', projectId]]}
      onDone={onDone}
    />
  );
}
