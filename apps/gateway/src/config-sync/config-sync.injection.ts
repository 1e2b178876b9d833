/** DI token of the Gateway's own ioredis connection (snapshot reads, reconnect detection). */
export const CONFIG_REDIS = Symbol('ConfigRedis');
/** DI token of the root pino logger. */
export const GATEWAY_LOGGER = Symbol('GatewayLogger');
