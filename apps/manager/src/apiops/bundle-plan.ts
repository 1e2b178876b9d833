import { randomUUID } from 'node:crypto';
import {
  identitySourceNeedsSecret,
  keyManagerProblems,
  type ApiopsBundle,
  type IdentitySourceType,
  type BundleCredential,
  type PlannedChange,
  type PlannedKind,
  type SecretBox,
} from '@idm/domain';
import { PolicyConfigError, validatePolicySpecs } from '@idm/policies/schemas';
import { leavesClientSecretOut, withComparableClientSecrets, withoutClientSecrets, withStoredClientSecrets } from '../api-proxies/token-service-secret';
import { ProblemError, type FieldIssue } from '../problems/problem.error';
import {
  changedKeyManagerSecrets,
  comparableKeyManager,
  IDENTITY_SOURCE_FIELDS,
  identitySourceEntry,
  identitySourceSecretChanges,
  KEY_MANAGER_FIELDS,
  keyManagerEntry,
  materialDiffers,
} from './bundle-entities';
import { planTokenSettings } from './bundle-token-settings';
import { inverted, policiesById, policiesByName, type ReferenceMap } from './bundle-references';
import { canonicalJson } from './canonical-json';
import type { CurrentProject } from './project-state.reader';

export interface PlanContext {
  prune: boolean;
  environmentNames: string[];
  secrets: SecretBox;
  passwordMatches: (hash: string, password: string) => Promise<boolean>;
}

// Canonical: JSONB hands stored objects back with their keys reordered, a bundle keeps its own order.
/** What a source's secret is, for the message asking for it. */
const SECRET_NAMES: Record<IdentitySourceType, string> = {
  ldap: "the service account's password",
  sql: "the database user's password",
  rest: "the REST endpoint's API key",
  oidc: 'the client secret',
  saml: "the SP's AuthnRequest signing key",
};
const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
const sorted = (values: string[]) => [...values].sort();
function changedFields(current: Record<string, unknown>, desired: Record<string, unknown>, fields: string[]): string[] {
  return fields.filter((f) => !same(current[f], desired[f]));
}

/** Checks what a bundle refers to before anything is planned, so a bad bundle fails as a whole. */
export function checkReferences(bundle: ApiopsBundle, current: CurrentProject, environmentNames: string[]): void {
  const issues: FieldIssue[] = [];
  // Linear (a Set, not indexOf): a bundle may list 100,000 credentials.
  const duplicates = (list: string[], path: string) => {
    const seen = new Set<string>();
    list.forEach((name, i) => (seen.has(name) ? issues.push({ path: `bundle.${path}.${i}`, message: `duplicate '${name}'` }) : seen.add(name)));
  };
  duplicates(
    bundle.teams.map((t) => t.name),
    'teams',
  );
  duplicates(
    bundle.roles.map((r) => r.name),
    'roles',
  );
  duplicates(
    bundle.proxies.map((p) => p.name),
    'proxies',
  );
  duplicates(
    bundle.secrets.map((s) => s.name),
    'secrets',
  );
  duplicates(
    bundle.keyManagers.map((k) => k.name),
    'keyManagers',
  );
  duplicates(
    bundle.identitySources.map((s) => s.name),
    'identitySources',
  );
  duplicates(
    bundle.credentials.map((c) => c.username),
    'credentials',
  );
  const teams = new Set(bundle.teams.map((t) => t.name));
  const checkTeam = (team: string | null, path: string) => team && !teams.has(team) && issues.push({ path, message: `unknown team '${team}' (list it under teams)` });
  checkSecrets(bundle, current, checkTeam, issues);
  checkKeyManagers(bundle, current, issues);
  checkIdentitySources(bundle, current, issues);
  const names = namesInBundle(bundle, current);
  bundle.proxies.forEach((p, i) => {
    checkTeam(p.team, `bundle.proxies.${i}.team`);
    // Policies name key managers and secrets; validated by id (as the proxy service will), kept by name.
    const byId = policiesById(p.policies, names, (u) =>
      issues.push({
        path: `bundle.proxies.${i}.${u.path}`,
        message: `unknown ${u.kind} '${u.name}' (list it under ${u.kind === 'secret' ? 'secrets' : 'keyManagers'}, or create it first)`,
      }),
    );
    p.environments.forEach((e, j) => !environmentNames.includes(e) && issues.push({ path: `bundle.proxies.${i}.environments.${j}`, message: `unknown environment '${e}'` }));
    try {
      p.policies = policiesByName(validateBundlePolicies(byId, current.proxies.find((e) => e.name === p.name)?.policies), inverted(names));
    } catch (err) {
      if (err instanceof ProblemError) issues.push(...(err.errors ?? []).map((issue) => ({ ...issue, path: `bundle.proxies.${i}.${issue.path}` })));
      else if (err instanceof PolicyConfigError)
        issues.push(...err.issues.map((issue) => ({ path: ['bundle', 'proxies', i, 'policies', ...issue.path].join('.'), message: issue.message })));
      else throw err;
    }
  });
  const currentCredentials = new Map(current.credentials.map((e) => [e.username, e]));
  bundle.credentials.forEach((c, i) => {
    checkTeam(c.team, `bundle.credentials.${i}.team`);
    const existing = currentCredentials.get(c.username);
    const outside = current.outsideBundles.get(c.username);
    if (outside) issues.push({ path: `bundle.credentials.${i}.username`, message: `'${c.username}' is ${outside}; leave it out` });
    c.metadata.forEach((m, j) => {
      const kept = m.secret && existing?.metadata.some((e) => e.key === m.key && e.secret);
      if (m.value === undefined && !kept) issues.push({ path: `bundle.credentials.${i}.metadata.${j}.value`, message: m.secret ? 'a new secret entry needs a value' : 'required' });
    });
  });
  if (issues.length) throw new ProblemError(400, 'invalid_bundle', 'The bundle is invalid', `${issues.length} problem(s) in the bundle`, issues);
}

/** A new secret needs its material; a secret's team and kind are fixed once created. */
function checkSecrets(bundle: ApiopsBundle, current: CurrentProject, checkTeam: (team: string | null, path: string) => unknown, issues: FieldIssue[]): void {
  bundle.secrets.forEach((s, i) => {
    checkTeam(s.team, `bundle.secrets.${i}.team`);
    const existing = current.secrets.find((e) => e.name === s.name);
    if (!existing && s.material === undefined)
      issues.push({ path: `bundle.secrets.${i}.material`, message: 'a new secret needs its material (exports never carry it: supply it when applying)' });
    if (existing && existing.kind !== s.kind) issues.push({ path: `bundle.secrets.${i}.kind`, message: `is '${existing.kind}' and cannot change` });
    const team = existing && (existing.teamId === null ? null : (current.teams.find((t) => t.id === existing.teamId)?.name ?? null));
    if (existing && team !== s.team) issues.push({ path: `bundle.secrets.${i}.team`, message: `is ${team === null ? 'the project' : `'${team}'`} and cannot change` });
  });
}

/** The create rules, with the secrets a key manager already stores counting as given (a bundle leaves them out). */
function checkKeyManagers(bundle: ApiopsBundle, current: CurrentProject, issues: FieldIssue[]): void {
  const secretNames = new Set([...current.references.secrets.values(), ...bundle.secrets.map((s) => s.name)]);
  bundle.keyManagers.forEach((k, i) => {
    const stored = current.keyManagers.find((e) => e.name === k.name);
    const kept = (plain: string | undefined, sealed: string | null | undefined) => plain ?? (sealed ? 'stored' : undefined);
    // A named project secret replaces a sealed client secret: the stored one no longer counts.
    const { clientSecretName, sharedSecretName, ...fields } = k;
    for (const [field, name] of [
      ['clientSecretName', clientSecretName],
      ['sharedSecretName', sharedSecretName],
    ] as const)
      if (name !== undefined && !secretNames.has(name))
        issues.push({ path: `bundle.keyManagers.${i}.${field}`, message: `unknown secret '${name}' (list it under secrets, or create it first)` });
    const problems = keyManagerProblems({
      ...fields,
      clientSecretId: clientSecretName,
      clientSecret: clientSecretName === undefined ? kept(k.clientSecret, stored?.clientSecret) : k.clientSecret,
      sharedSecretId: sharedSecretName,
      sharedSecret: sharedSecretName === undefined ? kept(k.sharedSecret, stored?.sharedSecret) : k.sharedSecret,
      tls: { ...k.tls, clientKeyPem: kept(k.tls.clientKeyPem, stored?.tlsClientKey) },
    });
    if (stored && stored.type !== k.type) problems.push({ path: ['type'], message: `is '${stored.type}' and cannot change` });
    issues.push(...problems.map((p) => ({ path: ['bundle', 'keyManagers', i, ...p.path].join('.'), message: p.message })));
  });
}

/** A source's type is fixed once created; one that needs its secret must have it, given or stored (exports never carry it). */
function checkIdentitySources(bundle: ApiopsBundle, current: CurrentProject, issues: FieldIssue[]): void {
  // Kinds by name: the bundle's own secrets win over stored ones of the same name (a kind cannot change anyway).
  const secretKinds = new Map([...current.secrets.map((s) => [s.name, s.kind] as const), ...bundle.secrets.map((s) => [s.name, s.kind] as const)]);
  bundle.identitySources.forEach((source, i) => {
    const stored = current.identitySources.find((e) => e.name === source.name);
    if (stored && stored.type !== source.type) issues.push({ path: `bundle.identitySources.${i}.type`, message: `is '${stored.type}' and cannot change` });
    if (source.type === 'oidc' && source.config.clientSecretName !== undefined) {
      const name = source.config.clientSecretName;
      const kind = secretKinds.get(name);
      const path = `bundle.identitySources.${i}.config.clientSecretName`;
      if (kind === undefined) issues.push({ path, message: `unknown secret '${name}' (list it under secrets, or create it first)` });
      else if (kind !== 'shared-secret') issues.push({ path, message: `secret '${name}' is a ${kind}; a client secret needs a shared-secret` });
      if (typeof source.secret === 'string') issues.push({ path: `bundle.identitySources.${i}.secret`, message: 'give either secret or config.clientSecretName, not both' });
      return;
    }
    const secret = source.secret === undefined ? (stored?.secret ?? null) : source.secret;
    // A stored source already without it (created so through the API) re-applies as it is.
    const alreadyWithout = stored !== undefined && stored.secret === null && identitySourceNeedsSecret(stored.type, stored.config);
    if (secret === null && identitySourceNeedsSecret(source.type, source.config) && !alreadyWithout)
      issues.push({
        path: `bundle.identitySources.${i}.secret`,
        message: `${SECRET_NAMES[source.type]} is needed (exports never carry it: supply it when applying)`,
      });
  });
}

/**
 * Name -> id of everything the bundle's policies may name: the project's secrets and key managers
 * (stored ones by their id, new ones by a stand-in until they are created) and the System key managers.
 */
function namesInBundle(bundle: ApiopsBundle, current: CurrentProject): ReferenceMap {
  const names = inverted(current.references);
  for (const s of bundle.secrets) if (!names.secrets.has(s.name)) names.secrets.set(s.name, randomUUID());
  for (const k of bundle.keyManagers) if (!names.keyManagers.has(k.name)) names.keyManagers.set(k.name, randomUUID());
  return names;
}

/**
 * Validates a bundle's policies as the proxy service will (defaults applied, so they compare with
 * the stored ones). A token-service block without its client secret, as an export writes it,
 * validates against the stored secret and stays without it: the service keeps the stored one.
 */
function validateBundlePolicies(specs: ApiopsBundle['proxies'][number]['policies'], stored: CurrentProject['proxies'][number]['policies'] = []) {
  const normalized = validatePolicySpecs(withStoredClientSecrets(specs, stored));
  return normalized.map((spec, i) => (leavesClientSecretOut(specs[i]) ? withoutClientSecrets([spec])[0] : spec));
}

/** Compares a credential's metadata without ever revealing secrets: a secret matches when it opens to the same value. */
function comparableMetadata(
  entries: { key: string; value?: string; secret: boolean; includeInJwt: boolean; includeInTokenResponse: boolean }[],
  current: CurrentProject['credentials'][number] | undefined,
  secrets: SecretBox,
) {
  return entries.map((e) => {
    const stored = current?.metadata.find((m) => m.key === e.key && m.secret);
    const value = !e.secret ? e.value : e.value === undefined || (stored && secrets.open(stored.value) === e.value) ? 'unchanged-secret' : 'new-secret';
    return { key: e.key, secret: e.secret, includeInJwt: e.includeInJwt, includeInTokenResponse: e.includeInTokenResponse, value };
  });
}

async function credentialChanges(desired: BundleCredential, current: CurrentProject['credentials'][number], ctx: PlanContext): Promise<string[]> {
  const fields = changedFields(
    {
      ...current,
      roles: sorted(current.roles),
      metadata: comparableMetadata(
        current.metadata.map((m) => (m.secret ? { ...m, value: undefined } : m)),
        current,
        ctx.secrets,
      ),
    },
    {
      ...desired,
      expiresAt: desired.expiresAt && new Date(desired.expiresAt).toISOString(),
      roles: sorted(desired.roles),
      metadata: comparableMetadata(desired.metadata, current, ctx.secrets),
    },
    ['team', 'enabled', 'expiresAt', 'email', 'fullName', 'description', 'roles', 'metadata', 'access'],
  );
  if (desired.password !== undefined && !(current.passwordHash && (await ctx.passwordMatches(current.passwordHash, desired.password)))) fields.push('password');
  return fields;
}

/** The ordered list of changes that turns the current project into the bundle. Pure apart from hashing. */
/** The project's brute-force settings: a bundle that leaves them out keeps them; null removes them. */
function planBruteForceSettings(bundle: ApiopsBundle, current: CurrentProject, plan: PlannedChange[]): void {
  const desired = bundle.bruteForceSettings;
  const stored = current.bruteForceSettings;
  if (desired === undefined || (desired === null && stored === null)) return;
  const name = bundle.project.name;
  if (desired === null) plan.push({ op: 'delete', kind: 'brute_force_settings', name });
  else if (stored === null) plan.push({ op: 'create', kind: 'brute_force_settings', name });
  else {
    const fields = changedFields(stored, desired, sorted([...new Set([...Object.keys(stored), ...Object.keys(desired)])]));
    if (fields.length) plan.push({ op: 'update', kind: 'brute_force_settings', name, fields });
  }
}

/** The self-registration and verified-email switches: a bundle that leaves them out keeps them (a left-out field of a given object is its default, as a PUT). */
function planEndUserRegistration(bundle: ApiopsBundle, current: CurrentProject, plan: PlannedChange[]): void {
  const desired = bundle.endUserRegistration;
  if (desired === undefined) return;
  const fields = changedFields(current.endUserRegistration, desired, ['selfRegistration', 'requireVerifiedEmail']);
  if (fields.length) plan.push({ op: 'update', kind: 'end_user_registration', name: bundle.project.name, fields });
}

/** The dynamic client registration switch: a bundle that leaves it out keeps it. */
function planClientRegistration(bundle: ApiopsBundle, current: CurrentProject, plan: PlannedChange[]): void {
  const desired = bundle.clientRegistration;
  if (desired === undefined) return;
  const fields = changedFields(current.clientRegistration, desired, ['enabled']);
  if (fields.length) plan.push({ op: 'update', kind: 'client_registration_settings', name: bundle.project.name, fields });
}

export async function planBundle(bundle: ApiopsBundle, current: CurrentProject, ctx: PlanContext): Promise<PlannedChange[]> {
  const plan: PlannedChange[] = [];
  const upsert = (kind: PlannedKind, name: string, exists: boolean, fields: string[]) => {
    if (!exists) plan.push({ op: 'create', kind, name });
    else if (fields.length) plan.push({ op: 'update', kind, name, fields });
  };
  upsert('project', bundle.project.name, current.project !== null, changedFields(current.project ?? {}, bundle.project, ['description']));
  for (const role of bundle.roles) {
    const existing = current.roles.find((r) => r.name === role.name);
    upsert(
      'role',
      role.name,
      !!existing,
      existing ? changedFields({ ...existing, permissions: sorted(existing.permissions) }, { ...role, permissions: sorted(role.permissions) }, ['description', 'permissions']) : [],
    );
  }
  planBruteForceSettings(bundle, current, plan);
  planEndUserRegistration(bundle, current, plan);
  planClientRegistration(bundle, current, plan);
  for (const team of bundle.teams) {
    const existing = current.teams.find((t) => t.name === team.name);
    upsert('team', team.name, !!existing, existing ? changedFields(existing, team, ['description']) : []);
  }
  for (const [i, secret] of bundle.secrets.entries()) {
    const existing = current.secrets.find((s) => s.name === secret.name);
    const fields = existing ? changedFields(existing, secret, ['description']) : [];
    if (await materialOf(() => materialDiffers(secret, existing, ctx.secrets), i)) fields.push('material');
    upsert('project_secret', secret.name, !!existing, existing ? fields : []);
  }
  for (const keyManager of bundle.keyManagers) {
    const existing = current.keyManagers.find((k) => k.name === keyManager.name);
    const fields = existing
      ? [
          ...changedFields(comparableKeyManager(keyManagerEntry(existing, current.references.secrets)), comparableKeyManager(keyManager), [...KEY_MANAGER_FIELDS]),
          ...changedKeyManagerSecrets(keyManager, existing, ctx.secrets),
        ]
      : [];
    upsert('key_manager', keyManager.name, !!existing, fields);
  }
  for (const source of bundle.identitySources) {
    const existing = current.identitySources.find((e) => e.name === source.name);
    const fields = existing
      ? [
          ...changedFields(identitySourceEntry(existing, current.references.secrets), source, [...IDENTITY_SOURCE_FIELDS]),
          ...(identitySourceSecretChanges(source, existing, ctx.secrets) ? ['secret'] : []),
        ]
      : [];
    upsert('identity_source', source.name, !!existing, fields);
  }
  for (const proxy of bundle.proxies) {
    const existing = current.proxies.find((p) => p.name === proxy.name);
    const fields = existing
      ? changedFields(
          {
            ...existing,
            methods: sorted(existing.methods),
            environments: sorted(existing.environments),
            policies: withComparableClientSecrets(ctx.secrets, existing.policies, existing.policies),
          },
          {
            ...proxy,
            methods: sorted(proxy.methods),
            environments: sorted(proxy.environments),
            policies: withComparableClientSecrets(ctx.secrets, proxy.policies, existing.policies),
          },
          ['description', 'team', 'basePath', 'upstreamUrl', 'methods', 'policies', 'environments', 'selfService'],
        )
      : [];
    upsert('api_proxy', proxy.name, !!existing, fields);
  }
  const currentCredentials = new Map(current.credentials.map((c) => [c.username, c]));
  for (const credential of bundle.credentials) {
    const existing = currentCredentials.get(credential.username);
    upsert('credential', credential.username, !!existing, existing ? await credentialChanges(credential, existing, ctx) : []);
  }
  planTokenSettings(bundle, current, plan);
  // Clients that registered themselves (RFC 7591) are not in current.credentials: prune leaves them to their registrants.
  if (ctx.prune) {
    const listed = new Set(bundle.credentials.map((d) => d.username));
    for (const c of current.credentials) if (!listed.has(c.username)) plan.push({ op: 'delete', kind: 'credential', name: c.username });
    for (const p of current.proxies) if (!bundle.proxies.some((d) => d.name === p.name)) plan.push({ op: 'delete', kind: 'api_proxy', name: p.name });
    for (const k of current.keyManagers) if (!bundle.keyManagers.some((d) => d.name === k.name)) plan.push({ op: 'delete', kind: 'key_manager', name: k.name });
    for (const r of current.identitySources) if (!bundle.identitySources.some((d) => d.name === r.name)) plan.push({ op: 'delete', kind: 'identity_source', name: r.name });
    for (const s of current.secrets) if (!bundle.secrets.some((d) => d.name === s.name)) plan.push({ op: 'delete', kind: 'project_secret', name: s.name });
    for (const t of current.teams) if (!bundle.teams.some((d) => d.name === t.name)) plan.push({ op: 'delete', kind: 'team', name: t.name });
  }
  return plan;
}

/** Material that does not read as its kind fails the plan at the bundle's path (as a create would at `material`). */
async function materialOf<T>(read: () => Promise<T>, index: number): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (!(err instanceof ProblemError) || !err.errors) throw err;
    throw new ProblemError(
      400,
      'invalid_bundle',
      'The bundle is invalid',
      err.detail ?? err.title,
      err.errors.map((e) => ({ ...e, path: `bundle.secrets.${index}.${e.path}` })),
    );
  }
}
