// Seeds the scale benchmark's installation: two environments, each with one project, P proxies
// (api-key policy) and its credentials. The first proxy of each project goes through the admin
// API (so its policy config is what the Manager validates and stores); the rest are copies of
// that row, and credentials with their API keys are generated in PostgreSQL (generate_series,
// SHA-256 key hashes as the Manager stores them), since a million admin calls would take hours.
import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_HEADER = 'x-api-key';

/**
 * The API key of credential number `g`: the product's format ("idm_" + 8-char prefix + "_" +
 * 32-char secret), the prefix from g, the secret from the run's random salt, so the benchmark
 * can present any seeded credential's key without storing a million of them.
 */
export function seededKeys() {
  const salt = randomBytes(16).toString('hex');
  const prefixSql = (g) => `'idm_' || lpad(to_hex(${g}), 8, '0')`;
  return {
    salt,
    keyOf: (g) => `idm_${g.toString(16).padStart(8, '0')}_${createHash('md5').update(`${salt}:${g}`).digest('hex')}`,
    keySql: (g) => `${prefixSql(g)} || '_' || md5('${salt}:' || ${g})`,
    prefixSql,
  };
}

/** An environment with a project and its first proxy `/<tag>0`, through the admin API. */
export async function createEnvironment({ api }, { environment, tag, upstreamUrl }) {
  await api.call('POST', '/environments', { name: environment });
  const project = await api.call('POST', '/projects', { name: `${environment}-${tag}` });
  await api.call('POST', `/projects/${project.id}/proxies`, {
    name: `${tag}0`,
    basePath: `/${tag}0`,
    upstreamUrl,
    methods: ['GET'],
    policies: [{ type: 'api-key', config: { header: API_KEY_HEADER, stripCredential: true } }],
    environments: [environment],
  });
  return { environment, project, basePath: `/${tag}0` };
}

/** The rest of the environment, written in PostgreSQL: `proxies` proxies in all, credentials first..last. */
export async function seedRows({ pg, databaseUrl, keys }, { environment, project }, { proxies, firstCredential, lastCredential }) {
  // Numbers and ids below come from this script and the API, never from outside input.
  await pg.query(
    databaseUrl,
    `
    INSERT INTO api_proxies (project_id, name, base_path, upstream_url, methods, policies)
      SELECT project_id, name || '-' || g, base_path || '-' || g, upstream_url, methods, policies
      FROM api_proxies, generate_series(1, ${proxies - 1}) g WHERE project_id = '${project.id}';
    INSERT INTO proxy_deployments (proxy_id, project_id, environment_id)
      SELECT p.id, p.project_id, e.id FROM api_proxies p, environments e WHERE p.project_id = '${project.id}' AND e.name = '${environment}'
      ON CONFLICT DO NOTHING;
    INSERT INTO credentials (project_id, username)
      SELECT '${project.id}', 'c' || g FROM generate_series(${firstCredential}, ${lastCredential}) g;
    INSERT INTO api_keys (credential_id, prefix, key_hash)
      SELECT id, ${keys.prefixSql('g')}, encode(sha256(convert_to(${keys.keySql('g')}, 'UTF8')), 'hex')
      FROM (SELECT id, substr(username, 2)::int AS g FROM credentials WHERE project_id = '${project.id}') c;
    ANALYZE;`,
  );
}

/** Credential ids by number, for the admin API calls that change them. */
export async function credentialIds({ pg, databaseUrl }, projectId, numbers) {
  const { rows } = await pg.query(databaseUrl, 'SELECT id, substr(username, 2)::int AS g FROM credentials WHERE project_id = $1 AND username = ANY($2)', [
    projectId,
    numbers.map((g) => `c${g}`),
  ]);
  return new Map(rows.map((r) => [r.g, r.id]));
}
