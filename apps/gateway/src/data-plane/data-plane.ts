import type { ConfigSnapshot } from '@idm/config-bus';
import { RedisRateLimitStore } from '@idm/policies';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';
import { ActiveConfiguration } from '../config-sync/active-configuration';
import { GatewayHttpServer, type RequestListener } from '../http/gateway-http-server';
import { TrafficMetrics } from '../metrics/traffic-metrics';
import { ClientIpResolver } from '../proxy/client-ip';
import { createAuthenticationDependencies, gatewayMasterKeys } from '../proxy/authentication-dependencies';
import { ProxyRequestHandler } from '../proxy/proxy-request.handler';
import { UpstreamPools } from '../proxy/upstream-pools';
import { createRateLimitRedis } from '../rate-limit/rate-limit-redis';
import { createTokenService } from '../token-service/token-service';

/**
 * Everything that serves traffic, wired by hand (plain classes, no Nest): the listening sockets,
 * the proxy and token handlers, the compiled configuration they read, upstream pools, and the
 * Redis connections of the request path (rate limits, Digest nonces, opaque tokens). It runs in
 * the data-plane thread; `control` is the relay to Nest's endpoints on the control thread.
 */
export class DataPlane {
  readonly metrics = new TrafficMetrics();
  readonly active: ActiveConfiguration;
  readonly http: GatewayHttpServer;
  private readonly closeConnections: () => Promise<void>;

  constructor(
    private readonly config: GatewayConfig,
    private readonly log: Logger,
    control: RequestListener,
  ) {
    const pools = new UpstreamPools(config.upstream);
    const rateLimitRedis = createRateLimitRedis(config.rateLimit.redisUrl, config.rateLimit.timeoutMs, log);
    const authentication = createAuthenticationDependencies(gatewayMasterKeys(config, log), config.environment, rateLimitRedis);
    const tokens = createTokenService(config, authentication.secrets, log);
    const rateLog = log.child({ component: 'rate-limit' });
    let lastReport = 0;
    this.active = new ActiveConfiguration(pools, this.metrics, {
      store: new RedisRateLimitStore(rateLimitRedis, `idm:rl:${config.environment}:`),
      // Reported (metric on every failure, a log line at most every 10 s), decided per rule.
      onStoreError: (err) => {
        if (Date.now() - lastReport < 10_000) return;
        lastReport = Date.now();
        rateLog.warn({ err: { message: (err as Error)?.message } }, 'rate-limit store unavailable; rules decide (fail open or closed)');
      },
    }, {
      secrets: authentication.secrets,
      opaqueTokens: tokens.store,
      onKeyProblems: (problems) => log.error({ problems }, 'signing keys of this revision could not be opened; tokens signed with them are refused'),
    }, authentication);
    const clientIp = config.clientIp.header === null ? null : new ClientIpResolver(config.clientIp);
    const proxy = new ProxyRequestHandler(this.active, this.metrics, config, log.child({ component: 'proxy' }), clientIp);
    this.http = new GatewayHttpServer({ proxy: proxy.handle, tokens: tokens.handlerFor(this.active).handle, control }, config.tls);
    this.closeConnections = async () => {
      await pools.closeAll();
      await tokens.close();
      await rateLimitRedis.quit().catch(() => rateLimitRedis.disconnect());
    };
  }

  /** Compiles and serves `snapshot`; proxies whose configuration does not compile are logged, loudly. */
  activate(snapshot: ConfigSnapshot): void {
    const served = this.active.activate(snapshot);
    for (const problem of served.compiled.problems) {
      this.log.error({ environment: this.config.environment, revision: snapshot.revision, ...problem }, 'proxy unavailable: its configuration does not compile');
    }
  }

  /** Resolves to the HTTP port and the HTTPS port (null without TLS). */
  async listen(): Promise<{ port: number; tlsPort: number | null }> {
    const port = await this.http.listen(this.config.port, this.config.host);
    const tlsPort = this.config.tls === null ? null : await this.http.listenTls(this.config.tls.port, this.config.host);
    return { port, tlsPort };
  }

  /** Stops accepting connections, lets in-flight requests finish, then closes pools and Redis. */
  async close(): Promise<void> {
    await this.http.close();
    await this.closeConnections();
  }
}
