import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { parseGatewayConfig } from '../../../apps/gateway/src/config/gateway-config';
import { parseManagerConfig } from '../../../apps/manager/src/config/manager-config';
import { helmBinary } from './helm-binary';

const chart = join(__dirname, '..', 'identity-manager');
const ciValues = readdirSync(join(chart, 'ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const MASTER_KEY = 'k1:+GaY6gHHfo8kyv5nFK7qpSQNQvpHX9Bropn/C1g2AwE=';
const MINIMAL = ['--set', 'postgresql.url=postgresql://idm:pw@pg.db.svc:5432/idm', '--set', 'postgresql.host=pg.db.svc', '--set', `masterKeys.value=${MASTER_KEY}`];

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> };

// helm's cache/config/data homes: this run's own, removed afterwards (not the user's ~/.config/helm).
const helmHome = mkdtempSync(join(tmpdir(), 'idm-helm-'));
afterAll(() => rmSync(helmHome, { recursive: true, force: true }));

function helm(...args: string[]) {
  const homes = { HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data') };
  const run = spawnSync(helmBinary(), args, { encoding: 'utf8', env: { ...process.env, ...homes }, timeout: 60_000, killSignal: 'SIGKILL' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function render(...args: string[]): K8sObject[] {
  const run = helm('template', 'idm', chart, '--namespace', 'identity', ...args);
  if (run.status !== 0) throw new Error(`helm template failed: ${run.stderr}`);
  return parseAllDocuments(run.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

/**
 * The schema check runs in a child process (the models are ESM-only) that takes under a second. In
 * CI one such child once sat idle for ten minutes without exiting, and spawnSync blocks jest's own
 * timeouts: each attempt is bounded, a killed one is tried again.
 */
function schemaProblems(objects: K8sObject[]): string[] {
  for (let attempt = 1; ; attempt++) {
    const run = spawnSync(process.execPath, [join(__dirname, 'validate-manifests.mjs')], {
      input: JSON.stringify(objects),
      encoding: 'utf8',
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    if (run.status === 0) return JSON.parse(run.stdout);
    if (run.signal === null || attempt === 3) throw new Error(run.stderr || `validate-manifests.mjs ended by ${run.signal}`);
  }
}

const find = (objects: K8sObject[], kind: string, suffix: string) => objects.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix))!;
const container = (deployment: K8sObject) => deployment.spec.template.spec.containers[0];
const env = (deployment: K8sObject) => Object.fromEntries(container(deployment).env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

describe('Helm chart deploy/helm/identity-manager', () => {
  it('has values files for every topology under ci/', () => {
    expect(ciValues).toEqual(['cluster-values.yaml', 'default-values.yaml', 'existing-secrets-values.yaml', 'ha-values.yaml', 'ingress-values.yaml', 'sentinel-values.yaml']);
  });

  describe.each(ciValues)('ci/%s', (file) => {
    const values = ['-f', join(chart, 'ci', file)];
    it('passes helm lint', () => {
      const run = helm('lint', chart, '--strict', ...values);
      expect(run.stderr + run.stdout).toMatch(/0 chart\(s\) failed/);
      expect(run.status).toBe(0);
    });
    it('renders objects valid against the Kubernetes API schemas', () => {
      const objects = render(...values);
      expect(objects.length).toBeGreaterThan(5);
      expect(schemaProblems(objects)).toEqual([]);
    });
  });

  /** What the Secrets of ci/existing-secrets-values.yaml would hold in a cluster. */
  const EXISTING_SECRETS: Record<string, string> = {
    'idm-master-keys/keys': MASTER_KEY,
    'idm-admin/username': 'ops',
    'idm-admin/password': 'an-operator-password',
    'idm-database/url': 'postgresql://idm:pw@postgres.db.svc:5432/idm',
    'idm-redis/password': 'redis-secret',
    'idm-redis-tls/ca.crt': 'CA BUNDLE',
    'idm-redis-tls/tls.crt': 'CLIENT CERTIFICATE',
    'idm-redis-tls/tls.key': 'CLIENT KEY',
  };

  /**
   * Secret volumes as the kubelet would mount them, under a directory of this run: each item of
   * the volume's Secret written to its path; an environment value under a mount path is moved
   * there, so the apps read what the chart mounted (a key the volume does not project is missing).
   */
  function mountedFile(deployment: K8sObject, value: string): string {
    const pod = deployment.spec.template.spec;
    const mount = container(deployment).volumeMounts.find((m: any) => value.startsWith(`${m.mountPath}/`));
    const secret = mount && pod.volumes.find((v: any) => v.name === mount.name)?.secret;
    if (!secret) return value;
    const dir = join(helmHome, 'mounts', deployment.metadata.name, mount.name);
    for (const item of secret.items) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, item.path), EXISTING_SECRETS[`${secret.secretName}/${item.key}`]);
    }
    return join(dir, value.slice(mount.mountPath.length + 1));
  }

  /** A container's environment as the kubelet would give it: Secret references resolved, Secret volumes mounted. */
  function resolvedEnv(objects: K8sObject[], deployment: K8sObject): Record<string, string> {
    const created = objects.find((o) => o.kind === 'Secret');
    const resolved: Record<string, string> = {};
    for (const entry of container(deployment).env) {
      const ref = entry.valueFrom?.secretKeyRef;
      const value = !ref
        ? entry.value && mountedFile(deployment, entry.value)
        : ref.name === created?.metadata.name
          ? created!.data![ref.key] && Buffer.from(created!.data![ref.key], 'base64').toString()
          : EXISTING_SECRETS[`${ref.name}/${ref.key}`];
      if (value === undefined && !ref?.optional) throw new Error(`${entry.name}: ${JSON.stringify(ref)} resolves to nothing`);
      if (value !== undefined) resolved[entry.name] = value;
    }
    return resolved;
  }

  it.each(ciValues)('ci/%s: each plane accepts the environment the chart gives it', (file) => {
    const objects = render('-f', join(chart, 'ci', file));
    const gateway = parseGatewayConfig(resolvedEnv(objects, find(objects, 'Deployment', '-gateway')));
    const manager = parseManagerConfig(resolvedEnv(objects, find(objects, 'Deployment', '-manager')));
    expect(gateway.masterKeys).toHaveLength(file === 'ha-values.yaml' ? 2 : 1);
    // The TLS files the chart mounts are the ones the apps read (ci/sentinel-values.yaml).
    if (file === 'sentinel-values.yaml') {
      for (const redis of [gateway.redis, manager.redis]) {
        expect(redis).toMatchObject({
          mode: 'sentinel',
          sentinelPassword: 'sentinel-secret',
          tls: { ca: 'CA BUNDLE', cert: 'CLIENT CERTIFICATE', key: 'CLIENT KEY', servername: 'redis.cache.svc' },
        });
      }
    }
    expect(manager.IDM_MASTER_KEYS).toBeDefined();
    const { postgresql } = parse(readFileSync(join(chart, 'ci', file), 'utf8'));
    for (const policy of [gateway.upstreamPolicy, manager.upstreamPolicy]) {
      expect(policy.deny).toEqual(expect.arrayContaining(['idm-identity-manager-manager.identity.svc:8080', `${postgresql.host}:5432`]));
    }
  });

  it('the schema validation catches an invalid object', () => {
    const objects = render(...MINIMAL);
    const broken = structuredClone(find(objects, 'Deployment', '-gateway'));
    broken.spec.replicas = 'two';
    expect(schemaProblems([broken])).toEqual([expect.stringMatching(/Deployment\/idm-identity-manager-gateway: .*replicas must be integer/)]);
  });

  it('refuses to render without master keys unless allowInsecureDevKey=true', () => {
    const withoutKeys = MINIMAL.slice(0, 4);
    const refused = helm('template', 'idm', chart, ...withoutKeys);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/masterKeys.value or masterKeys.existingSecret is required/);
    const objects = render(...withoutKeys, '--set', 'allowInsecureDevKey=true');
    expect(env(find(objects, 'Deployment', '-gateway'))).not.toHaveProperty('IDM_MASTER_KEYS');
  });

  it.each([
    ['an unknown Redis mode', ['--set', 'redis.mode=clustr'], /redis\/mode/],
    ['a malformed master key', ['--set', 'masterKeys.value=not-a-key'], /masterKeys\/value/],
    ['a short admin password', ['--set', 'admin.password=short'], /admin\/password/],
    ['a Sentinel set without nodes', ['--set', 'redis.mode=sentinel'], /sentinel/],
    ['Redis credentials in the URL', ['--set', 'redis.url=redis://user:pw@redis:6379'], /redis\/url/],
    ['a misspelt key', ['--set', 'gateway.replica=3'], /replica/],
    [
      'a Redis client certificate without its key',
      ['--set', 'redis.tls.enabled=true', '--set', 'redis.tls.existingSecret=tls', '--set', 'redis.tls.certKey=tls.crt'],
      /redis\/tls/,
    ],
    ['Redis TLS files while TLS is off', ['--set', 'redis.tls.existingSecret=tls'], /redis\/tls\/existingSecret/],
    ['a root user', ['--set', 'podSecurityContext.runAsNonRoot=false'], /runAsNonRoot/],
  ])('values.schema.json rejects %s', (_what, args, reason) => {
    const run = helm('template', 'idm', chart, ...MINIMAL, ...args);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(reason);
  });

  it.each([
    ['a Manager PDB that would block every drain', ['--set', 'manager.replicas=1'], /manager.pdb.minAvailable \(1\) must be below its replica count \(1\)/],
    ['a Gateway PDB at the HPA minimum', ['--set', 'gateway.autoscaling.minReplicas=1'], /gateway.pdb.minAvailable \(1\) must be below its replica count \(1\)/],
    [
      'an HPA minimum above its maximum',
      ['--set', 'gateway.autoscaling.minReplicas=5', '--set', 'gateway.autoscaling.maxReplicas=3'],
      /minReplicas \(5\) exceeds maxReplicas \(3\)/,
    ],
  ])('refuses %s', (_what, args, reason) => {
    const run = helm('template', 'idm', chart, ...MINIMAL, ...args);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(reason);
  });

  it('gives both planes master keys, Redis and an upstream deny list of the installation’s own endpoints', () => {
    const objects = render('-f', join(chart, 'ci', 'sentinel-values.yaml'));
    const gateway = env(find(objects, 'Deployment', '-gateway'));
    const manager = env(find(objects, 'Deployment', '-manager'));
    for (const e of [gateway, manager]) {
      expect(e.IDM_MASTER_KEYS).toEqual({ secretKeyRef: { name: 'idm-identity-manager', key: 'master-keys' } });
      expect(e.REDIS_SENTINELS).toBe('redis-sentinel-0.redis.cache.svc:26379,redis-sentinel-1.redis.cache.svc:26379,redis-sentinel-2.redis.cache.svc:26379');
      expect(e.REDIS_SENTINEL_MASTER).toBe('idm');
      expect(e.REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'idm-identity-manager', key: 'redis-password' } });
      expect(e.UPSTREAM_DENY.split(',')).toEqual(
        expect.arrayContaining(['idm-identity-manager-manager.identity.svc:8080', 'postgres.db.svc:5432', 'redis-sentinel-0.redis.cache.svc:26379']),
      );
    }
    expect(gateway).not.toHaveProperty('DATABASE_URL');
    expect(gateway).not.toHaveProperty('IDM_ADMIN_PASSWORD');
    expect(manager.DATABASE_URL).toEqual({ secretKeyRef: { name: 'idm-identity-manager', key: 'database-url' } });
    expect(container(find(objects, 'Deployment', '-gateway')).command).toEqual(['node', '--no-memory-reducer', 'apps/gateway/dist/main.js']);
  });

  it('gives both planes TLS to Redis from a mounted Secret, and the Sentinel password', () => {
    const objects = render('-f', join(chart, 'ci', 'sentinel-values.yaml'));
    for (const deployment of [find(objects, 'Deployment', '-gateway'), find(objects, 'Deployment', '-manager')]) {
      expect(env(deployment)).toMatchObject({
        REDIS_TLS: 'true',
        REDIS_TLS_CA_FILE: '/etc/idm/redis-tls/ca.crt',
        REDIS_TLS_CERT_FILE: '/etc/idm/redis-tls/tls.crt',
        REDIS_TLS_KEY_FILE: '/etc/idm/redis-tls/tls.key',
        REDIS_TLS_SERVERNAME: 'redis.cache.svc',
        REDIS_SENTINEL_PASSWORD: { secretKeyRef: { name: 'idm-identity-manager', key: 'redis-sentinel-password' } },
      });
      expect(container(deployment).volumeMounts).toContainEqual({ name: 'redis-tls', mountPath: '/etc/idm/redis-tls', readOnly: true });
      expect(deployment.spec.template.spec.volumes).toContainEqual(
        expect.objectContaining({ name: 'redis-tls', secret: expect.objectContaining({ secretName: 'idm-redis-tls' }) }),
      );
    }
    // Without TLS nothing of it is rendered.
    const plain = find(render(...MINIMAL), 'Deployment', '-gateway');
    expect(Object.keys(env(plain)).filter((name) => name.startsWith('REDIS_TLS'))).toEqual([]);
    expect(plain.spec.template.spec.volumes.map((v: any) => v.name)).toEqual(['tmp']);
  });

  it('reads every secret from existing Secrets and creates none', () => {
    const objects = render('-f', join(chart, 'ci', 'existing-secrets-values.yaml'));
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const manager = env(find(objects, 'Deployment', '-manager'));
    expect(manager.IDM_MASTER_KEYS).toEqual({ secretKeyRef: { name: 'idm-master-keys', key: 'keys' } });
    expect(manager.DATABASE_URL).toEqual({ secretKeyRef: { name: 'idm-database', key: 'url' } });
    expect(manager.IDM_ADMIN_PASSWORD).toEqual({ secretKeyRef: { name: 'idm-admin', key: 'password' } });
    expect(manager.REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'idm-redis', key: 'password' } });
    // An ACL user is optional in the operator's Secret; the password is not.
    expect(manager.REDIS_USERNAME).toEqual({ secretKeyRef: { name: 'idm-redis', key: 'redis-username', optional: true } });
  });

  it('runs both planes hardened, probed and drained', () => {
    const objects = render('-f', join(chart, 'ci', 'ha-values.yaml'));
    for (const suffix of ['-manager', '-gateway']) {
      const deployment = find(objects, 'Deployment', suffix);
      const pod = deployment.spec.template.spec;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
      expect(container(deployment).securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(container(deployment).readinessProbe.httpGet.path).toBe('/health/ready');
      expect(container(deployment).livenessProbe.httpGet.path).toBe('/health/live');
      expect(container(deployment).startupProbe).toBeDefined();
      expect(container(deployment).lifecycle.preStop).toBeDefined();
      expect(find(objects, 'PodDisruptionBudget', suffix)).toBeDefined();
      expect(find(objects, 'ServiceMonitor', suffix)).toBeDefined();
    }
    const gateway = find(objects, 'Deployment', '-gateway');
    // The pod outlives the Gateway's own shutdown grace (SHUTDOWN_TIMEOUT_MS) plus the preStop sleep.
    expect(gateway.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(env(gateway).SHUTDOWN_TIMEOUT_MS) + 5000);
    expect(gateway.spec).not.toHaveProperty('replicas');
    expect(find(objects, 'HorizontalPodAutoscaler', '-gateway').spec).toMatchObject({ minReplicas: 3, maxReplicas: 30 });
    expect(gateway.spec.template.spec.topologySpreadConstraints.map((c: any) => c.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    expect(find(objects, 'Deployment', '-manager').spec.replicas).toBe(3);
    expect(find(objects, 'ServiceAccount', '')).toMatchObject({ automountServiceAccountToken: false });
  });

  it('keeps the Manager private and exposes both planes through optional ingresses', () => {
    const objects = render('-f', join(chart, 'ci', 'ingress-values.yaml'));
    const policy = find(objects, 'NetworkPolicy', '-manager');
    expect(policy.spec.podSelector.matchLabels['app.kubernetes.io/component']).toBe('manager');
    expect(policy.spec.ingress[0].from).toEqual([
      { podSelector: { matchLabels: { 'idm-identity-manager-manager-client': 'true' } } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
    ]);
    expect(find(objects, 'Ingress', '-gateway').spec.rules[0].host).toBe('api.example.com');
    expect(find(objects, 'Ingress', '-manager').spec.rules[0].host).toBe('admin.example.com');
    expect(render(...MINIMAL).filter((o) => o.kind === 'Ingress')).toEqual([]);
  });

  it('generates an admin password when none is given', () => {
    const secret = find(render(...MINIMAL), 'Secret', '');
    expect(Buffer.from(secret.data!['admin-password'], 'base64').toString()).toMatch(/^[A-Za-z0-9]{24}$/);
  });
});
