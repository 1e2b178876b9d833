import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { Database } from './database';

@Global()
@Module({
  providers: [
    {
      provide: Database,
      inject: [MANAGER_CONFIG],
      useFactory: (config: ManagerConfig) => Database.open({ url: config.DATABASE_URL, dataDir: join(config.IDM_DATA_DIR, 'pglite') }),
    },
  ],
  exports: [Database],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(Database) private readonly database: Database) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database.shutdown();
  }
}
