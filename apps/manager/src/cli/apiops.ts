import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { toPortableYaml } from '../apiops/bundle-yaml';

/**
 * APIops from a shell or a pipeline:
 *   apiops plan   --file bundle.yaml [--prune]
 *   apiops apply  --file bundle.yaml [--prune]
 *   apiops export --project NAME [--out bundle.yaml|.json]
 * Server and identity from IDM_MANAGER_URL and IDM_TOKEN (or IDM_USERNAME + IDM_PASSWORD).
 * Exit codes: 0 done, 1 the request or the bundle failed (message on stderr), 2 usage.
 */
const USAGE = 'usage: apiops <plan|apply|export> [--file FILE] [--prune] [--project NAME] [--out FILE]';

class CliError extends Error {}

interface Problem {
  code?: string;
  detail?: string;
  title?: string;
  errors?: { path: string; message: string }[];
}

/** The CLI trusts the Manager's answers to have the documented shape (it only prints them). */
async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const server = (process.env.IDM_MANAGER_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const token = process.env.IDM_TOKEN ?? (await login(server));
  const res = await fetch(`${server}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  }).catch((err: Error) => {
    throw new CliError(`cannot reach the Manager at ${server}: ${err.message}`);
  });
  const payload: unknown = await res.json().catch(() => ({}));
  if (!res.ok) throw new CliError(describeProblem(res.status, payload as Problem));
  return payload as T;
}

async function login(server: string): Promise<string> {
  const { IDM_USERNAME: username, IDM_PASSWORD: password } = process.env;
  if (!username || !password) throw new CliError('set IDM_TOKEN, or IDM_USERNAME and IDM_PASSWORD');
  const res = await fetch(`${server}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) }).catch(
    (err: Error) => {
      throw new CliError(`cannot reach the Manager at ${server}: ${err.message}`);
    },
  );
  const payload = (await res.json().catch(() => ({}))) as Problem & { token?: string };
  if (!res.ok || !payload.token) throw new CliError(describeProblem(res.status, payload));
  return payload.token;
}

function describeProblem(status: number, problem: Problem): string {
  const lines = [`${status} ${problem.code ?? 'error'}: ${problem.detail ?? problem.title ?? 'request failed'}`];
  for (const e of problem.errors ?? []) lines.push(`  ${e.path}: ${e.message}`);
  return lines.join('\n');
}

function readBundle(file: string | undefined): unknown {
  if (!file) throw new CliError('--file is required');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parse(text);
  } catch (err) {
    throw new CliError(`${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
}

interface PlannedChange {
  op: string;
  kind: string;
  name: string;
  fields?: string[];
}

function printChanges(changes: PlannedChange[]): void {
  if (changes.length === 0) process.stdout.write('no changes\n');
  for (const c of changes) process.stdout.write(`${c.op} ${c.kind} ${c.name}${c.fields ? ` (${c.fields.join(', ')})` : ''}\n`);
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { file: { type: 'string' }, prune: { type: 'boolean' }, project: { type: 'string' }, out: { type: 'string' } },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [command] = parsed.positionals;
  const { file, prune = false, project, out } = parsed.values;
  switch (command) {
    case 'plan':
      printChanges((await api<{ changes: PlannedChange[] }>('POST', '/apiops/plan', { bundle: readBundle(file), prune })).changes);
      return 0;
    case 'apply':
      printChanges((await api<{ applied: PlannedChange[] }>('POST', '/apiops/apply', { bundle: readBundle(file), prune })).applied);
      return 0;
    case 'export': {
      if (!project) throw new CliError('--project is required');
      const found = (await api<{ id: string; name: string }[]>('GET', '/projects')).find((p) => p.name === project);
      if (!found) throw new CliError(`project '${project}' not found (or not visible to you)`);
      const bundle = await api<Record<string, unknown>>('GET', `/projects/${found.id}/bundle`);
      const text = out?.endsWith('.json') ? JSON.stringify(bundle, null, 2) + '\n' : toPortableYaml(bundle);
      if (out) writeFileSync(out, text);
      else process.stdout.write(text);
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof CliError ? err.message : `unexpected error: ${(err as Error).message}`}\n`);
    process.exit(1);
  },
);
