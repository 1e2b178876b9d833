import { configChangedChannel, type RedisBusServer } from '@idm/config-bus';
import type { ConfigSync } from './config-sync';

/**
 * Subscribes the Gateway's bus to its own environment's `config.changed` channel, and to no
 * other. A handler registered with `@EventPattern` needs its pattern when the class is declared,
 * before the configuration names the environment; one shared channel made every Gateway receive
 * (and parse) every environment's changes. Registered before the bus listens: the transport
 * subscribes to the patterns of its handlers when it starts, and again after each reconnect.
 * Given as text: ConfigSync parses a message only when it handles it (not during a full load).
 */
export function subscribeToConfigChanges(bus: RedisBusServer, environment: string, sync: ConfigSync): void {
  bus.addTextHandler(configChangedChannel(environment), (text) => sync.onConfigChanged(text));
}
