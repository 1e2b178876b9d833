import type { ApiopsBundle, BundleCredential, PlannedChange, PlannedKind, SecretBox } from '@idm/domain';
import { PolicyConfigError, validatePolicySpecs } from '@idm/policies/schemas';
import { leavesClientSecretOut, withComparableClientSecrets, withoutClientSecrets, withStoredClientSecrets } from '../api-proxies/token-service-secret';
import { ProblemError, type FieldIssue } from '../problems/problem.error';
import { canonicalJson } from './canonical-json';
import type { CurrentProject } from './project-state.reader';

export interface PlanContext {
  prune: boolean;
  environmentNames: string[];
  secrets: SecretBox;
  passwordMatches: (hash: string, password: string) => Promise<boolean>;
}

// Canonical: JSONB hands stored objects back with their keys reordered, a bundle keeps its own order.
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
    bundle.credentials.map((c) => c.username),
    'credentials',
  );
  const teams = new Set(bundle.teams.map((t) => t.name));
  const checkTeam = (team: string | null, path: string) => team && !teams.has(team) && issues.push({ path, message: `unknown team '${team}' (list it under teams)` });
  bundle.proxies.forEach((p, i) => {
    checkTeam(p.team, `bundle.proxies.${i}.team`);
    p.environments.forEach((e, j) => !environmentNames.includes(e) && issues.push({ path: `bundle.proxies.${i}.environments.${j}`, message: `unknown environment '${e}'` }));
    try {
      p.policies = validateBundlePolicies(p.policies, current.proxies.find((e) => e.name === p.name)?.policies);
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
    c.metadata.forEach((m, j) => {
      const kept = m.secret && existing?.metadata.some((e) => e.key === m.key && e.secret);
      if (m.value === undefined && !kept) issues.push({ path: `bundle.credentials.${i}.metadata.${j}.value`, message: m.secret ? 'a new secret entry needs a value' : 'required' });
    });
  });
  if (issues.length) throw new ProblemError(400, 'invalid_bundle', 'The bundle is invalid', `${issues.length} problem(s) in the bundle`, issues);
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
  for (const team of bundle.teams) {
    const existing = current.teams.find((t) => t.name === team.name);
    upsert('team', team.name, !!existing, existing ? changedFields(existing, team, ['description']) : []);
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
  if (ctx.prune) {
    const listed = new Set(bundle.credentials.map((d) => d.username));
    for (const c of current.credentials) if (!listed.has(c.username)) plan.push({ op: 'delete', kind: 'credential', name: c.username });
    for (const p of current.proxies) if (!bundle.proxies.some((d) => d.name === p.name)) plan.push({ op: 'delete', kind: 'api_proxy', name: p.name });
    for (const t of current.teams) if (!bundle.teams.some((d) => d.name === t.name)) plan.push({ op: 'delete', kind: 'team', name: t.name });
  }
  return plan;
}
