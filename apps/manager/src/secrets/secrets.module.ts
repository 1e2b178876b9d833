import { Global, Logger, Module } from '@nestjs/common';
import { parseMasterKeys, SecretBox } from '@idm/domain';
import { DEVELOPMENT_MASTER_KEY } from '@idm/platform';
import { MasterKeyRotation } from './master-key-rotation';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';

export function createSecretBox(config: Pick<ManagerConfig, 'IDM_MASTER_KEYS'>): SecretBox {
  if (config.IDM_MASTER_KEYS) return new SecretBox(parseMasterKeys(config.IDM_MASTER_KEYS));
  new Logger('Secrets').warn('IDM_MASTER_KEYS is not set: secrets at rest use the INSECURE development master key. You MUST set IDM_MASTER_KEYS in any real deployment.');
  return new SecretBox([DEVELOPMENT_MASTER_KEY]);
}

@Global()
@Module({
  providers: [
    MasterKeyRotation,
    {
      provide: SecretBox,
      inject: [MANAGER_CONFIG],
      useFactory: (config: ManagerConfig) => createSecretBox(config),
    },
  ],
  exports: [SecretBox, MasterKeyRotation],
})
export class SecretsModule {}
