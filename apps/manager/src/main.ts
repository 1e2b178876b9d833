import { ConfigError, parseManagerConfig } from './config/manager-config';
import { createManagerApp } from './manager.app';

async function main(): Promise<void> {
  const config = parseManagerConfig(process.env);
  const app = await createManagerApp(config);
  await app.startAllMicroservices();
  await app.listen(config.MANAGER_PORT, config.MANAGER_HOST);
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : `Manager failed to start: ${(err as Error)?.message ?? String(err)}`;
  process.stderr.write(JSON.stringify({ level: 60, app: 'manager', msg: message }) + '\n');
  process.exit(1);
});
