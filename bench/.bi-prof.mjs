import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, postgres, startManager } from './lib/manager-process.mjs';
import { stopProcess } from './lib/processes.mjs';
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const pg = postgres(root);
const db = await createDatabase(pg);
const env = `prof-${randomBytes(3).toString('hex')}`;
let manager;
try {
  const realExec = process.execPath;
  manager = await startManager(root, { databaseUrl: db.url, redisUrl: 'redis://127.0.0.1:6379/0', logFile: '/tmp/bi-prof/manager.log', nodeArgs: [] });
  const api = manager.api;
  await api.call('POST', '/environments', { name: env });
  const project = await api.call('POST', '/projects', { name: `${env}-p` });
  await api.call('POST', `/projects/${project.id}/proxies`, { name: 'b0', basePath: `/${env}`, upstreamUrl: 'http://127.0.0.1:9', methods: ['GET'], policies: [{ type: 'api-key', config: {} }], environments: [env] });
  for (let r = 0; r < 3; r++) {
    const credentials = Array.from({ length: 10000 }, (_, i) => ({ username: `u${r}-${i}`, apiKeys: [`idm_${randomBytes(6).toString('base64url')}_${randomBytes(24).toString('base64url')}`] }));
    const t0 = performance.now();
    await api.call('POST', `/projects/${project.id}/credentials/import`, { credentials }, { timeoutMs: 300000 });
    console.log(`request ${r}: ${Math.round(performance.now() - t0)} ms`);
  }
  //${(await api.call('GET', '/environments')).find((e) => e.name === env).id}`);
} finally {
  if (manager) await stopProcess(manager.child, 'SIGINT', 10000);
  await db.drop();
}
