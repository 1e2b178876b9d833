import { createRequestContext, type PolicyRejection } from '@idm/policies';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { GatewayConfig } from '../config/gateway-config';
import type { ActiveConfiguration, ProxyRoute } from '../config-sync/active-configuration';
import type { GatewayMetrics, ProxyMetrics } from '../metrics/gateway-metrics';
import type { ClientIpResolver } from './client-ip';
import { writeProxyError } from './proxy-error.reply';
import { limitChunkedBody } from './request-body-limit';
import { hasDotSegment } from './request-path';
import { UpstreamExchange } from './upstream-exchange';
import { upstreamRequestHeaders } from './upstream-headers';

/**
 * The hot path: route -> method -> policy chain -> upstream, bodies streamed both ways.
 * Everything it consults was compiled when the revision was activated. It takes the reply over
 * from Fastify (hijack) and writes the raw response: Fastify's send pipeline for a streamed
 * payload costs more per request than everything else this handler does.
 */
export class ProxyRequestHandler {
  constructor(
    private readonly active: ActiveConfiguration,
    private readonly metrics: GatewayMetrics,
    private readonly config: Pick<GatewayConfig, 'trustProxy' | 'bodyLimit'>,
    private readonly clientIp: ClientIpResolver | null = null,
  ) {}

  readonly handle = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    const res = reply.raw;
    try {
      const outcome = this.authorize(request, res);
      if (outcome instanceof Promise) {
        outcome.catch((err: unknown) => this.failInternally(request, res, err));
      }
    } catch (err) {
      this.failInternally(request, res, err);
    }
  };

  /** Returns a promise only when a policy had to wait (e.g. a cold password verification). */
  private authorize(request: FastifyRequest, res: ServerResponse): void | Promise<void> {
    const serving = this.active.current;
    if (serving === null) return this.fail(request, res, this.metrics.unmatched, 503, 'config_unavailable', 'The gateway has not loaded its configuration yet');

    const raw = request.raw;
    const url = raw.url!;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = serving.route(path);
    if (route === undefined) return this.fail(request, res, this.metrics.unmatched, 404, 'route_not_found', 'No API is served at this path');

    const { proxy, metrics } = route;
    const refused = proxy.unavailable ?? proxy.checkMethod(raw.method!);
    if (refused) return this.reject(request, res, route, refused);
    const remainder = path.slice(proxy.basePath.length);
    if (hasDotSegment(remainder)) return this.fail(request, res, metrics, 400, 'invalid_path', 'The path must not contain dot segments');
    const declaredLength = raw.headers['content-length'];
    if (declaredLength !== undefined && Number(declaredLength) > this.config.bodyLimit) {
      return this.fail(request, res, metrics, 413, 'payload_too_large', `The request body exceeds ${this.config.bodyLimit} bytes`);
    }

    const clientIp = this.clientIp === null ? request.ip : this.clientIp.resolve(raw.socket.remoteAddress ?? '', raw.headers);
    const ctx = createRequestContext({ method: raw.method!, path, headers: raw.headers, query: q < 0 ? '' : url.slice(q + 1), clientIp, socket: raw.socket });
    const outcome = proxy.runPolicies(ctx);
    if (outcome instanceof Promise) {
      return outcome.then((rejection) => (rejection === undefined ? this.forward(request, res, route, remainder, ctx) : this.reject(request, res, route, rejection)));
    }
    if (outcome !== undefined) return this.reject(request, res, route, outcome);
    this.forward(request, res, route, remainder, ctx);
  }

  private forward(request: FastifyRequest, res: ServerResponse, route: ProxyRoute, remainder: string, ctx: ReturnType<typeof createRequestContext>): void {
    const raw = request.raw;
    const headers = upstreamRequestHeaders(raw.headers, ctx, {
      requestId: request.id,
      peerAddress: raw.socket.remoteAddress ?? '',
      protocol: (raw.socket as TLSSocket).encrypted ? 'https' : 'http',
      trustProxy: this.config.trustProxy,
    });
    const path = (route.proxy.upstreamPath + remainder || '/') + (ctx.query === '' ? '' : '?' + ctx.query);
    // Headers for the client (e.g. RateLimit-*); writeHead merges them with the upstream's.
    if (ctx.responseHeaders !== null) for (const name in ctx.responseHeaders) res.setHeader(name, ctx.responseHeaders[name]);
    new UpstreamExchange(request, res, route).send(path, raw.method!, headers, this.bodyOf(request));
  }

  private bodyOf(request: FastifyRequest): Readable | null {
    const raw = request.raw;
    if (raw.headers['transfer-encoding'] !== undefined) return limitChunkedBody(raw, this.config.bodyLimit);
    const length = raw.headers['content-length'];
    return length === undefined || length === '0' ? null : raw;
  }

  private reject(request: FastifyRequest, res: ServerResponse, route: ProxyRoute, rejection: PolicyRejection): void {
    request.log.info({ proxy: route.proxy.name, status: rejection.status, code: rejection.code }, 'request rejected');
    this.fail(request, res, route.metrics, rejection.status, rejection.code, rejection.message, rejection.headers);
  }

  private fail(request: FastifyRequest, res: ServerResponse, metrics: ProxyMetrics, status: number, code: string, message: string, headers?: Readonly<Record<string, string | readonly string[]>>): void {
    metrics.countResponse(status);
    writeProxyError(res, request.id, status, code, message, headers);
  }

  private failInternally(request: FastifyRequest, res: ServerResponse, err: unknown): void {
    request.log.error({ err }, 'proxy request failed before forwarding');
    this.fail(request, res, this.metrics.unmatched, 500, 'internal_error', 'The gateway failed to process the request');
  }
}
