import {
  Alert,
  Button,
  Fieldset,
  Group,
  MultiSelect,
  NumberInput,
  PasswordInput,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
  Textarea,
} from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { ApiError, api, describeError } from '../../api/client';
import { issuesOutside } from '../../forms/server-errors';
import type { KeyManager, KeyManagerTiming } from '../../api/types';
import { usePermissions } from '../../permissions/permissions';
import { useAction } from '../actions';
import { NEW_KEY_MANAGER, bodyOf, draftOf, type KeyManagerDraft } from './key-manager-draft';
import { SharedSecretPicker } from '../SharedSecretPicker';

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'];
/** Top-level body fields a form field shows its findings on; the others' findings stay in the summary. */
const FIELDS = [
  'name',
  'description',
  'projectId',
  'type',
  'issuer',
  'discoveryUrl',
  'jwksUri',
  'introspectionEndpoint',
  'clientId',
  'clientSecret',
  'clientSecretId',
  'sharedSecret',
  'sharedSecretId',
  'tls',
  'timing',
  'tokenTypes',
  'algorithms',
  'audiences',
  'clockSkewSeconds',
  'requiredClaims',
  'claimMappings',
  'roleList',
];
/** The timing settings, labelled with their unit and bounds (libs/domain keyManagerTimingSchema). */
const TIMING: { key: keyof KeyManagerTiming; label: string; min: number; max: number }[] = [
  { key: 'timeoutMs', label: 'Call timeout (ms)', min: 100, max: 30_000 },
  { key: 'maxResponseBytes', label: 'Largest answer (bytes)', min: 1024, max: 4 * 1024 * 1024 },
  { key: 'jwksMinTtlSeconds', label: 'JWKS cache at least (seconds)', min: 10, max: 86_400 },
  { key: 'jwksMaxTtlSeconds', label: 'JWKS cache at most (seconds)', min: 10, max: 7 * 86_400 },
  { key: 'jwksDefaultTtlSeconds', label: 'JWKS cache without max-age (seconds)', min: 10, max: 7 * 86_400 },
  { key: 'refreshAheadPercent', label: 'Refresh ahead (% of the TTL)', min: 0, max: 90 },
  { key: 'unknownKidIntervalSeconds', label: 'Unknown kid refetch interval (seconds)', min: 1, max: 3_600 },
  { key: 'retryAfterErrorSeconds', label: 'Retry after an error (seconds)', min: 1, max: 600 },
  { key: 'introspectionMaxTtlSeconds', label: 'Introspection cache at most (seconds)', min: 1, max: 3_600 },
  { key: 'introspectionNegativeTtlSeconds', label: 'Inactive token cache (seconds)', min: 0, max: 300 },
];
const TOKEN_TYPES = [
  { value: 'jwt', label: 'JWT (verified with the JWKS)' },
  { value: 'opaque', label: 'Opaque (RFC 7662 introspection)' },
  { value: 'both', label: 'Both' },
];

/**
 * Create or edit one key manager. Every finding of the Manager shows on the field it names (its
 * `errors[].path`); the ones no field shows stay in the summary above the form.
 */
/** `scopes`: where the operator may create one (System and/or their projects), the first preselected. */
export function KeyManagerForm({ keyManager, scopes, onDone }: { keyManager: KeyManager | null; scopes: { value: string; label: string }[]; onDone: () => void }) {
  const creating = keyManager === null;
  const [draft, setDraft] = useState<KeyManagerDraft>(() => (keyManager ? draftOf(keyManager) : { ...NEW_KEY_MANAGER, scope: scopes[0]?.value ?? 'system' }));
  const action = useAction([['key-managers']]);
  const { can } = usePermissions(keyManager?.projectId ? { projectId: keyManager.projectId } : {});
  const editable = creating || can('key-manager:write');
  const issues = action.error instanceof ApiError ? action.error.errors : [];
  const fieldError = (...paths: string[]) => issues.find((i) => paths.some((p) => i.path === p || i.path.startsWith(`${p}.`)))?.message;
  const set = <K extends keyof KeyManagerDraft>(key: K, value: KeyManagerDraft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const external = draft.type === 'external';
  const projectId = creating ? (draft.scope === 'system' ? null : draft.scope) : keyManager.projectId;
  const setTiming = (key: keyof KeyManagerTiming, value: number | string) => setDraft((d) => ({ ...d, timing: { ...d.timing, [key]: value } }));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body = bodyOf(draft, creating);
    const done = creating
      ? await action.run(() => api('POST', '/key-managers', body), `Key manager ${draft.name} created`)
      : await action.run(() => api('PATCH', `/key-managers/${keyManager.id}`, body), `Key manager ${draft.name} saved`);
    if (done) onDone();
  };
  const secretNote = (isSet: boolean) => (creating ? 'Write-only: sealed and never shown again' : isSet ? 'Set. Leave empty to keep it; type a new one to replace it' : 'Not set');
  return (
    <form onSubmit={(e) => void submit(e)} autoComplete="off" noValidate>
      <fieldset disabled={!editable} style={{ border: 0, padding: 0, margin: 0 }}>
        <Stack>
          {action.error !== null && (
            <Alert color="red" role="alert" title="Not saved">
              {describeError(action.error)}
              {issuesOutside(issues, FIELDS).map((i) => (
                <div key={i.path}>
                  <code>{i.path}</code> {i.message}
                </div>
              ))}
            </Alert>
          )}
          <TextInput label="Name" required value={draft.name} error={fieldError('name')} onChange={(e) => set('name', e.currentTarget.value)} />
          <TextInput label="Description" value={draft.description} error={fieldError('description')} onChange={(e) => set('description', e.currentTarget.value)} />
          {creating && (
            <Group grow align="flex-start">
              <Select label="Scope" allowDeselect={false} data={scopes} value={draft.scope} error={fieldError('projectId')} onChange={(v) => set('scope', v ?? 'system')} />
              <Select
                label="Kind"
                allowDeselect={false}
                data={[
                  { value: 'external', label: 'External issuer' },
                  { value: 'builtin', label: 'Our token service (built-in)' },
                ]}
                value={draft.type}
                error={fieldError('type')}
                onChange={(v) => set('type', (v ?? 'external') as KeyManagerDraft['type'])}
              />
            </Group>
          )}
          {external && (
            <Fieldset legend="Issuer">
              <Stack>
                <TextInput
                  label="Issuer"
                  required
                  value={draft.issuer}
                  error={fieldError('issuer')}
                  onChange={(e) => set('issuer', e.currentTarget.value)}
                  description="The exact iss of its tokens: the Gateway picks the key manager by it"
                />
                <SegmentedControl
                  aria-label="Endpoints from"
                  value={draft.source}
                  onChange={(v) => set('source', v as KeyManagerDraft['source'])}
                  data={[
                    { value: 'discovery', label: 'From a discovery document' },
                    { value: 'explicit', label: 'Explicit endpoints' },
                  ]}
                />
                {draft.source === 'discovery' ? (
                  <TextInput
                    label="Discovery URL"
                    value={draft.discoveryUrl}
                    error={fieldError('discoveryUrl', 'jwksUri', 'introspectionEndpoint')}
                    onChange={(e) => set('discoveryUrl', e.currentTarget.value)}
                    description="OpenID or RFC 8414 metadata, e.g. https://idp.example.com/.well-known/openid-configuration"
                  />
                ) : (
                  <>
                    <TextInput label="JWKS URI" value={draft.jwksUri} error={fieldError('jwksUri')} onChange={(e) => set('jwksUri', e.currentTarget.value)} />
                    <TextInput
                      label="Introspection endpoint"
                      value={draft.introspectionEndpoint}
                      error={fieldError('introspectionEndpoint')}
                      onChange={(e) => set('introspectionEndpoint', e.currentTarget.value)}
                    />
                  </>
                )}
                <Group grow align="flex-start">
                  <TextInput
                    label="Introspection client id"
                    value={draft.clientId}
                    error={fieldError('clientId')}
                    onChange={(e) => set('clientId', e.currentTarget.value)}
                    description="For opaque tokens"
                  />
                  <PasswordInput
                    label="Introspection client secret"
                    visibilityToggleButtonProps={{ 'aria-label': 'Show the client secret' }}
                    value={draft.clientSecret}
                    error={fieldError('clientSecret')}
                    onChange={(e) => set('clientSecret', e.currentTarget.value)}
                    description={secretNote(keyManager?.hasClientSecret ?? false)}
                  />
                </Group>
                <SharedSecretPicker
                  label="Client secret from a project secret"
                  projectId={projectId}
                  systemPlaceholder="Project key managers only"
                  value={draft.clientSecretId}
                  error={fieldError('clientSecretId')}
                  onChange={(v) => set('clientSecretId', v)}
                  description="Instead of the client secret above: a shared secret of the project, rotated in one place"
                />
                <PasswordInput
                  label="Shared secret for HS algorithms"
                  visibilityToggleButtonProps={{ 'aria-label': 'Show the shared secret' }}
                  value={draft.sharedSecret}
                  error={fieldError('sharedSecret')}
                  onChange={(e) => set('sharedSecret', e.currentTarget.value)}
                  description={`At least 32 characters; HS256-512 are refused without it (or a project secret below). ${secretNote(keyManager?.hasSharedSecret ?? false)}`}
                />
                <SharedSecretPicker
                  label="HS key from a project secret"
                  projectId={projectId}
                  systemPlaceholder="Project key managers only"
                  value={draft.sharedSecretId}
                  error={fieldError('sharedSecretId')}
                  onChange={(v) => set('sharedSecretId', v)}
                  description="Instead of the shared secret above: during a rotation's overlap the previous version still verifies"
                />
              </Stack>
            </Fieldset>
          )}
          {external && (
            <Fieldset legend="TLS towards the issuer">
              <Stack>
                <Textarea
                  label="CA bundle (PEM)"
                  autosize
                  minRows={2}
                  maxRows={8}
                  spellCheck={false}
                  value={draft.caPem}
                  error={fieldError('tls.caPem')}
                  onChange={(e) => set('caPem', e.currentTarget.value)}
                  description="The endpoints' certificates must chain to it instead of the system store; empty: the system store"
                />
                <Textarea
                  label="Client certificate (PEM)"
                  autosize
                  minRows={2}
                  maxRows={8}
                  spellCheck={false}
                  value={draft.clientCertificatePem}
                  error={fieldError('tls.clientCertificatePem', 'tls')}
                  onChange={(e) => set('clientCertificatePem', e.currentTarget.value)}
                  description="For mutual TLS, with its key"
                />
                <Textarea
                  label="Client key (PEM)"
                  autosize
                  minRows={2}
                  maxRows={8}
                  spellCheck={false}
                  value={draft.clientKeyPem}
                  error={fieldError('tls.clientKeyPem')}
                  onChange={(e) => set('clientKeyPem', e.currentTarget.value)}
                  description={secretNote(keyManager?.tls.hasClientKey ?? false)}
                />
              </Stack>
            </Fieldset>
          )}
          {external && (
            <Fieldset legend="Timeouts and caching">
              <Group grow align="flex-start" wrap="wrap">
                {TIMING.map((t) => (
                  <NumberInput
                    key={t.key}
                    label={t.label}
                    min={t.min}
                    max={t.max}
                    clampBehavior="none"
                    style={{ minWidth: 220 }}
                    value={draft.timing[t.key]}
                    error={fieldError(`timing.${t.key}`)}
                    onChange={(v) => setTiming(t.key, v)}
                  />
                ))}
              </Group>
            </Fieldset>
          )}
          <Fieldset legend="Token checks">
            <Stack>
              <Select
                label="Token types"
                allowDeselect={false}
                data={TOKEN_TYPES}
                value={draft.tokenTypes}
                error={fieldError('tokenTypes')}
                onChange={(v) => set('tokenTypes', (v ?? 'jwt') as KeyManagerDraft['tokenTypes'])}
              />
              <MultiSelect
                label="Allowed algorithms"
                data={ALGORITHMS}
                value={draft.algorithms}
                error={fieldError('algorithms')}
                onChange={(v) => set('algorithms', v)}
                description="never none"
              />
              <TagsInput
                label="Audiences"
                value={draft.audiences}
                error={fieldError('audiences')}
                onChange={(v) => set('audiences', v)}
                description="Any one must be in aud; none: aud is not checked. Enter after each."
              />
              <NumberInput
                label="Clock skew (seconds)"
                min={0}
                max={300}
                clampBehavior="none"
                value={draft.clockSkewSeconds}
                error={fieldError('clockSkewSeconds')}
                onChange={(v) => set('clockSkewSeconds', v)}
              />
              <TagsInput
                label="Required claims"
                value={draft.requiredClaims}
                error={fieldError('requiredClaims')}
                onChange={(v) => set('requiredClaims', v)}
                description="Every token must carry them"
              />
            </Stack>
          </Fieldset>
          <Fieldset legend="Claim mappings">
            <Stack>
              <Group grow align="flex-start">
                <TextInput label="User id claim" value={draft.userIdClaim} error={fieldError('claimMappings.userId')} onChange={(e) => set('userIdClaim', e.currentTarget.value)} />
                <TextInput
                  label="Username claim"
                  value={draft.usernameClaim}
                  error={fieldError('claimMappings.username')}
                  onChange={(e) => set('usernameClaim', e.currentTarget.value)}
                />
              </Group>
              <Group grow align="flex-start">
                <TextInput label="Roles claim" value={draft.rolesClaim} error={fieldError('claimMappings.roles')} onChange={(e) => set('rolesClaim', e.currentTarget.value)} />
                <TextInput label="Scopes claim" value={draft.scopesClaim} error={fieldError('claimMappings.scopes')} onChange={(e) => set('scopesClaim', e.currentTarget.value)} />
                <TextInput label="Tenant claim" value={draft.tenantClaim} error={fieldError('claimMappings.tenant')} onChange={(e) => set('tenantClaim', e.currentTarget.value)} />
              </Group>
              <Textarea
                label="Claims sent upstream as headers"
                autosize
                minRows={2}
                value={draft.claimHeaders}
                error={fieldError('claimMappings.headers')}
                onChange={(e) => set('claimHeaders', e.currentTarget.value)}
                description="One claim: header per line, e.g. email: x-user-email"
                spellCheck={false}
              />
            </Stack>
          </Fieldset>
          <Fieldset legend="Who may use it">
            <Stack>
              <SegmentedControl
                aria-label="Role permissions"
                value={draft.roleListType}
                onChange={(v) => set('roleListType', v as KeyManagerDraft['roleListType'])}
                data={[
                  { value: 'none', label: 'Every role' },
                  { value: 'ALLOW', label: 'Only these roles (ALLOW)' },
                  { value: 'DENY', label: 'All but these roles (DENY)' },
                ]}
              />
              {draft.roleListType !== 'none' && (
                <TagsInput
                  label="Roles"
                  value={draft.roles}
                  error={fieldError('roleList')}
                  onChange={(v) => set('roles', v)}
                  description="A key manager has either an ALLOW or a DENY list, never both"
                />
              )}
            </Stack>
          </Fieldset>
          <Switch label="Enabled" checked={draft.enabled} onChange={(e) => set('enabled', e.currentTarget.checked)} />
          {!editable && <Text c="dimmed">You may look at this key manager but not change it.</Text>}
          {editable && <Button type="submit">{creating ? 'Create key manager' : 'Save key manager'}</Button>}
        </Stack>
      </fieldset>
    </form>
  );
}
