import { createRequestContext, type PolicyRejection, type RejectionCode, type RequestContext } from '@idm/policies';
import { requestIdOf } from '@idm/platform';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';
import type { GatewayErrorCode } from '../http/gateway-errors';
import type { ActiveConfiguration } from '../serving/active-configuration';
import type { ProxyRoute } from '../serving/serving-revision';
import type { GatewayMetrics, ProxyMetrics } from '../metrics/gateway-metrics';
import { peerOrForwardedIp, type ClientIpResolver } from '../http/client-ip';
import type { ProxiedRequest } from './proxied-request';
import { writeProxyError } from '../http/proxy-error.reply';
import { limitChunkedBody } from './request-body-limit';
import { requestTargetRejection } from './request-path';
import { TrustedHops } from '../http/trusted-hops';
import { UpstreamExchange } from './upstream-exchange';
import { upstreamRequestHeaders } from './upstream-headers';

/**
 * The hot path: route -> method -> policy chain -> upstream, bodies streamed both ways.
 * Everything it consults was compiled when the revision was activated. It is a plain node:http
 * listener: proxy traffic needs no router (the compiled base-path table is the router), no body
 * parsing (bodies stream to undici) and no reply pipeline, and a web framework's per-request
 * request/reply objects, hooks and child loggers cost a measurable share of a proxied request.
 * Log lines carry the request id as `reqId`, like the Gateway's own (Fastify) endpoints.
 */
export class ProxyRequestHandler {
  /** GATEWAY_TRUSTED_PROXIES, whose forwarding headers are extended rather than replaced; null: none. */
  private readonly trustedHops: TrustedHops | null;

  constructor(
    private readonly active: ActiveConfiguration,
    private readonly metrics: GatewayMetrics,
    private readonly config: Pick<GatewayConfig, 'trustProxy' | 'bodyLimit'> & Partial<Pick<GatewayConfig, 'clientIp'>>,
    private readonly log: Logger,
    private readonly clientIp: ClientIpResolver | null = null,
  ) {
    const hops = config.clientIp?.trustedProxies ?? [];
    this.trustedHops = hops.length === 0 ? null : new TrustedHops(hops);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => this.start({ req, res, id: requestIdOf(req), expectsContinue: false });

  /**
   * For requests with `Expect: 100-continue` (the server's 'checkContinue'): route, method, size
   * and policies are checked before the client is told to send its body, so a refused request
   * costs it no upload (RFC 9110 §10.1.1).
   */
  readonly handleExpectingContinue = (req: IncomingMessage, res: ServerResponse): void => this.start({ req, res, id: requestIdOf(req), expectsContinue: true });

  private start(request: ProxiedRequest): void {
    try {
      const outcome = this.authorize(request);
      if (outcome instanceof Promise) {
        outcome.catch((err: unknown) => this.failInternally(request, err));
      }
    } catch (err) {
      this.failInternally(request, err);
    }
  }

  /** Returns a promise only when a policy had to wait (e.g. a cold password verification). */
  private authorize(request: ProxiedRequest): void | Promise<void> {
    const serving = this.active.current;
    if (serving === null) return this.fail(request, this.metrics.unmatched, 503, 'config_unavailable', 'The gateway has not loaded its configuration yet');

    const raw = request.req;
    const url = raw.url!;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = serving.route(path);
    if (route === undefined) return this.fail(request, this.metrics.unmatched, 404, 'route_not_found', 'No API is served at this path');

    const { proxy, metrics } = route;
    const refused = proxy.unavailable ?? proxy.checkMethod(raw.method!);
    if (refused) return this.reject(request, route, refused);
    const remainder = path.slice(proxy.basePath.length);
    const query = q < 0 ? '' : url.slice(q + 1);
    const badTarget = requestTargetRejection(remainder, query);
    if (badTarget !== null) return this.fail(request, metrics, 400, badTarget.code, badTarget.message);
    const declaredLength = raw.headers['content-length'];
    if (declaredLength !== undefined && Number(declaredLength) > this.config.bodyLimit) {
      return this.fail(request, metrics, 413, 'payload_too_large', `The request body exceeds ${this.config.bodyLimit} bytes`);
    }

    const peer = raw.socket.remoteAddress ?? '';
    const clientIp = this.clientIp === null ? peerOrForwardedIp(peer, raw.headers, this.config.trustProxy) : this.clientIp.resolve(peer, raw.headers);
    const ctx = createRequestContext({ method: raw.method!, path, headers: raw.headers, query, clientIp, socket: raw.socket });
    const outcome = proxy.runPolicies(ctx);
    if (outcome instanceof Promise) {
      return outcome.then((rejection) => (rejection === undefined ? this.forward(request, route, remainder, ctx, peer) : this.reject(request, route, rejection)));
    }
    if (outcome !== undefined) return this.reject(request, route, outcome);
    this.forward(request, route, remainder, ctx, peer);
  }

  private forward(request: ProxiedRequest, route: ProxyRoute, remainder: string, ctx: RequestContext, peer: string): void {
    const raw = request.req;
    const headers = upstreamRequestHeaders(raw.headers, ctx, {
      requestId: request.id,
      peerAddress: peer,
      protocol: (raw.socket as TLSSocket).encrypted ? 'https' : 'http',
      localPort: String(raw.socket.localPort),
      trustedPeer: this.config.trustProxy || (this.trustedHops !== null && this.trustedHops.trusts(peer)),
      policyHeaderNames: route.proxy.upstreamHeaderNames,
    });
    const path = (route.proxy.upstreamPath + remainder || '/') + (ctx.query === '' ? '' : '?' + ctx.query);
    if (request.expectsContinue) request.res.writeContinue();
    new UpstreamExchange(request, route, this.log, ctx.responseHeaders).send(path, raw.method!, headers, this.bodyOf(raw));
  }

  private bodyOf(raw: IncomingMessage): Readable | null {
    if (raw.headers['transfer-encoding'] !== undefined) return limitChunkedBody(raw, this.config.bodyLimit);
    const length = raw.headers['content-length'];
    return length === undefined || length === '0' ? null : raw;
  }

  private reject(request: ProxiedRequest, route: ProxyRoute, rejection: PolicyRejection): void {
    this.log.info({ reqId: request.id, proxy: route.proxy.name, status: rejection.status, code: rejection.code }, 'request rejected');
    this.fail(request, route.metrics, rejection.status, rejection.code, rejection.message, rejection.headers);
  }

  private fail(
    request: ProxiedRequest,
    metrics: ProxyMetrics,
    status: number,
    code: GatewayErrorCode | RejectionCode,
    message: string,
    headers?: Readonly<Record<string, string | readonly string[]>>,
  ): void {
    metrics.countResponse(status);
    // Refused before its 100: the client holds the body back, so the connection cannot carry
    // another request until it gives up on it; closing is the clean end (RFC 9110 §10.1.1).
    const closing = request.expectsContinue ? { ...headers, connection: 'close' } : headers;
    writeProxyError(request.res, request.id, status, code, message, closing);
  }

  private failInternally(request: ProxiedRequest, err: unknown): void {
    this.log.error({ reqId: request.id, err }, 'proxy request failed before forwarding');
    this.fail(request, this.metrics.unmatched, 500, 'internal_error', 'The gateway failed to process the request');
  }
}
