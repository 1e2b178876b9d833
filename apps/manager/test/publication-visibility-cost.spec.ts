import { EnvironmentConfigStore } from '@idm/config-bus';
import { countQueries, type QueryCounter, type SentStatement } from './support/query-counter';
import { startTwoEnvironments, type TwoEnvironments } from './support/two-environments';

/** Proxies of the credential's project: enough that a walk over them shows in the buffer counts. */
const PROXIES = 3_000;
/** Most buffers one statement of a credential PATCH may touch: index probes take a handful each. */
const BUFFERS_PER_STATEMENT = 100;

/**
 * Whether an environment shows a credential's project was asked as "a proxy of the project
 * deployed there": found at once where it is, but a walk over every proxy of the project for each
 * environment where it is not. At issue #13's bench (10,000 proxies in one project, a second
 * environment) that walk was 10-40 ms of every credential change. The answer now comes from
 * environment_projects (kept by triggers on the deployments): one primary-key probe either way.
 * Each read statement of a PATCH is run again under EXPLAIN (ANALYZE, BUFFERS) with the
 * parameters the Manager sent: none may touch buffers in proportion to the project's proxies.
 */
describe('a credential PATCH in a project of many proxies, with an environment that does not show it', () => {
  let fixture: TwoEnvironments;
  let { suffix, shown, other, manager, redis, sql } = {} as TwoEnvironments;
  let counter: QueryCounter;
  let projectId: string;
  let credentialId: string;

  beforeAll(async () => {
    counter = countQueries();
    fixture = await startTwoEnvironments('vc');
    ({ suffix, shown, other, manager, redis, sql } = fixture);
    // Two projects of PROXIES proxies each, one per environment, as at the bench: whichever side
    // the planner walks (the project's proxies or the environment's deployments), it is long.
    projectId = await projectDeployedIn(shown, 'a');
    await projectDeployedIn(other, 'b');
    expect((await sql.query('SELECT count(*)::int AS n FROM proxy_deployments')).rows[0].n).toBe(2 * PROXIES);
    const credential = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'alice' });
    expect(credential.status).toBe(201);
    credentialId = credential.body.id;
    await sql.query('ANALYZE');
  }, 120_000);

  /** A project with one proxy deployed through the API, and PROXIES - 1 copies of it and of its deployment written behind the Manager's back. */
  const projectDeployedIn = async (environment: string, tag: string): Promise<string> => {
    const project = (await manager.request('POST', '/api/v1/projects', { name: `proj-${tag}-${suffix}` })).body.id;
    const proxy = { name: 'p', basePath: `/vc-${tag}-${suffix}`, upstreamUrl: 'http://127.0.0.1:9', environments: [environment] };
    const created = await manager.request('POST', `/api/v1/projects/${project}/proxies`, proxy);
    expect(created.status).toBe(201);
    await sql.query(
      `INSERT INTO api_proxies (project_id, name, base_path, upstream_url, methods, policies)
         SELECT project_id, name || '-' || g, base_path || '-' || g, upstream_url, methods, policies
         FROM api_proxies, generate_series(1, $2::int) g WHERE id = $1`,
      [created.body.id, PROXIES - 1],
    );
    await sql.query(
      `INSERT INTO proxy_deployments
         SELECT (jsonb_populate_record(NULL::proxy_deployments, to_jsonb(d) || jsonb_build_object('proxy_id', p.id))).*
         FROM proxy_deployments d JOIN api_proxies p ON p.project_id = $2 AND p.id <> d.proxy_id WHERE d.proxy_id = $1`,
      [created.body.id, project],
    );
    return project;
  };

  afterAll(async () => {
    counter?.restore();
    await fixture?.close();
  }, 60_000);

  const buffersOf = async ({ text, values }: SentStatement) => {
    const { rows } = await sql.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values);
    const plan = (rows[0]['QUERY PLAN'] as { Plan: Record<string, number> }[])[0].Plan;
    return plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
  };

  it(`reads no more than ${BUFFERS_PER_STATEMENT} buffers in any statement, the publication's included`, async () => {
    const patch = async (enabled: boolean) => {
      const response = await manager.request('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialId}`, { enabled });
      expect(response.status).toBe(200);
    };
    await patch(false); // the first PATCH of a session also reads what the next ones find cached
    const sent = await counter.sentDuring(() => patch(true));
    const reads = sent.filter((s) => /^\s*(select|with)\b/i.test(s.text) && !s.text.includes('pg_advisory'));
    // The publication asked which environments show the credential: the statement this guards.
    expect(reads.some((s) => /environment_projects|proxy_deployments/.test(s.text))).toBe(true);
    const costly: string[] = [];
    for (const statement of reads) {
      const buffers = await buffersOf(statement);
      if (buffers > BUFFERS_PER_STATEMENT) costly.push(`${buffers} buffers: ${statement.text.replace(/\s+/g, ' ').slice(0, 240)}`);
    }
    expect(costly).toEqual([]);
    // And the answer is still right: the credential is published where it is shown only.
    const store = new EnvironmentConfigStore(redis);
    expect((await store.load(shown))!.credentials.find((c) => c.id === credentialId)).toMatchObject({ enabled: true });
    expect((await store.load(other))!.credentials).toEqual([]);
  }, 120_000);

  it('keeps environment_projects equal to the deployments through deploy, undeploy, proxy and project deletion', async () => {
    const counts = async () => (await sql.query('SELECT project_id, environment_id, proxies FROM environment_projects ORDER BY 1, 2')).rows;
    const fromDeployments = async () => (await sql.query('SELECT project_id, environment_id, count(*)::int AS proxies FROM proxy_deployments GROUP BY 1, 2 ORDER BY 1, 2')).rows;
    const store = new EnvironmentConfigStore(redis);
    const inOther = async () => (await store.load(other))!.credentials.map((c) => c.id);
    expect(await counts()).toEqual(await fromDeployments());

    // One more proxy of the credential's project, deployed to the other environment too: it shows the credential now.
    const proxy = { name: 'q', basePath: `/vc-q-${suffix}`, upstreamUrl: 'http://127.0.0.1:9', environments: [shown, other] };
    const created = await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, proxy);
    expect(created.status).toBe(201);
    expect(await counts()).toEqual(await fromDeployments());
    expect((await sql.query('SELECT proxies FROM environment_projects WHERE project_id = $1 ORDER BY proxies', [projectId])).rows).toEqual([
      { proxies: 1 },
      { proxies: PROXIES + 1 },
    ]);
    expect(await inOther()).toEqual([credentialId]);

    // Undeployed from it: the pair is gone, and so is the credential from that environment.
    const undeployed = await manager.request('PATCH', `/api/v1/projects/${projectId}/proxies/${created.body.id}`, { environments: [shown] });
    expect(undeployed.status).toBe(200);
    expect(await counts()).toEqual(await fromDeployments());
    expect(await inOther()).toEqual([]);

    // A proxy deleted (its deployments go by cascade) and a whole project deleted.
    expect((await manager.request('DELETE', `/api/v1/projects/${projectId}/proxies/${created.body.id}`)).status).toBe(204);
    expect(await counts()).toEqual(await fromDeployments());
    const gone = (await sql.query('SELECT DISTINCT project_id FROM proxy_deployments WHERE project_id <> $1', [projectId])).rows[0].project_id;
    const deleted = await manager.request('DELETE', `/api/v1/projects/${gone}`);
    expect(deleted.status).toBe(204);
    expect(await counts()).toEqual(await fromDeployments());
    expect((await counts()).map((r) => r.project_id)).toEqual([projectId]);
  }, 120_000);
});
