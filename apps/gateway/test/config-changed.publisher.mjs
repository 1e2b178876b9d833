// Publishes one `config.changed` event exactly as the Manager does, through @nestjs/microservices'
// ClientRedis. A separate process because Nest 12 is ESM-only and jest's module runtime cannot
// load it. Usage: node config-changed.publisher.mjs <redis-url> <channel> '<message json>' (the
// channel: the environment's, `configChangedChannel` of @idm/config-bus).
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';

const [url, channel, json] = process.argv.slice(2);
const { hostname, port } = new URL(url);
const client = ClientProxyFactory.create({ transport: Transport.REDIS, options: { host: hostname, port: Number(port || 6379) } });
await client.connect();
await lastValueFrom(client.emit(channel, JSON.parse(json)), { defaultValue: undefined });
await client.close();
