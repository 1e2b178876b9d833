import { configChangedChannel, type ConfigChangedMessage } from '@idm/config-bus';
import Redis from 'ioredis';

/** Collects one environment's `config.changed` messages off the bus, the way a Gateway receives them. */
export interface ConfigChangedListener {
  /** Every message so far; tests empty it (`length = 0`) before the change they look at. */
  messages: ConfigChangedMessage[];
  close(): Promise<void>;
}

export async function listenConfigChanged(redisUrl: string, environment: string): Promise<ConfigChangedListener> {
  const subscriber = new Redis(redisUrl);
  const messages: ConfigChangedMessage[] = [];
  // The @nestjs/microservices Redis transport publishes {pattern, data} on a channel named after the pattern: the environment's.
  await subscriber.subscribe(configChangedChannel(environment));
  subscriber.on('message', (_channel, json: string) => {
    const { data } = JSON.parse(json) as { data: ConfigChangedMessage };
    if (data.environment === environment) messages.push(data);
  });
  return { messages, close: async () => void (await subscriber.quit()) };
}
