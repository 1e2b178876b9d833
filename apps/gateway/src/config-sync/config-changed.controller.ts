import { CONFIG_CHANGED } from '@idm/config-bus';
import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { ConfigSync } from './config-sync';

/** `config.changed` events from the Manager, over the @nestjs/microservices Redis transport. */
@Controller()
export class ConfigChangedController {
  constructor(@Inject(ConfigSync) private readonly sync: ConfigSync) {}

  @EventPattern(CONFIG_CHANGED)
  onConfigChanged(@Payload() message: unknown): Promise<void> {
    return this.sync.onConfigChanged(message);
  }
}
