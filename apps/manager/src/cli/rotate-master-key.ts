import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module';
import { ConfigError, parseManagerConfig } from '../config/manager-config';
import { ActorContext, systemActor } from '../governance/actor.context';
import { JsonLogger } from '../observability/json-logger';
import { MasterKeyRotation } from '../secrets/master-key-rotation';

/**
 * `node apps/manager/dist/cli/rotate-master-key.js` with IDM_MASTER_KEYS="new:<key>,old:<key>"
 * (and the Manager's usual DATABASE_URL / REDIS_URL): re-encrypts every secret under "new".
 * Afterwards the old key can be dropped from IDM_MASTER_KEYS.
 */
async function main(): Promise<void> {
  const config = parseManagerConfig(process.env);
  const app = await NestFactory.createApplicationContext(AppModule.forConfig(config), { logger: JsonLogger.create('warn'), abortOnError: false });
  try {
    const result = await ActorContext.run(systemActor('rotate-master-key'), () => app.get(MasterKeyRotation).run());
    process.stdout.write(`re-encrypted ${result.resealed} secret(s) under master key '${result.activeKeyId}'\n`);
  } finally {
    await app.close();
  }
}

main().then(
  // Exit explicitly: background connections (Redis, BullMQ) must not keep a finished command alive.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`rotate-master-key failed: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    process.exit(1);
  },
);
