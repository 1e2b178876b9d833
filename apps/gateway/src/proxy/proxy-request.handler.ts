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
import { BufferedUpstreamExchange } from './buffered-upstream-exchange';
import { readRequestBody } from './read-request-body';
import { limitChunkedBody, RequestBodyTooLargeError } from './request-body-limit';
import { requestTargetRejection } from './request-path';
import { TrustedHops } from '../http/trusted-hops';
import { UpstreamExchange } from './upstream-exchange';
import type { AuthRecorder } from '../auth-records/auth-recorder';
import type { AuthRecordFactory } from '../auth-records/auth-record-factory';
import { LlmCallForwarder } from '../llm/llm-call-forwarder';
import type { ProxyBruteForce } from '../brute-force/proxy-brute-force';
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
  private readonly llmCalls: LlmCallForwarder;

  constructor(
    private readonly active: ActiveConfiguration,
    private readonly metrics: GatewayMetrics,
    private readonly config: Pick<GatewayConfig, 'trustProxy' | 'bodyLimit'> & Partial<Pick<GatewayConfig, 'clientIp'>>,
    private readonly log: Logger,
    private readonly clientIp: ClientIpResolver | null = null,
    /** Where every chain decision is reported (null: nowhere, as in unit tests). */
    private readonly authRecords: { recorder: AuthRecorder; factory: AuthRecordFactory } | null = null,
    /** Brute-force blocks enforced on this path (null: none, as in unit tests). */
    private readonly bruteForce: ProxyBruteForce | null = null,
  ) {
    const hops = config.clientIp?.trustedProxies ?? [];
    this.trustedHops = hops.length === 0 ? null : new TrustedHops(hops);
    this.llmCalls = new LlmCallForwarder(log, config.bodyLimit, {
      refuse: (request, route, ctx, rejection) => {
        ctx.policy = 'llm-route';
        this.record(request, route, ctx, rejection);
        this.reject(request, route, rejection);
      },
      admitted: (request, route, ctx) => {
        // Recorded when the call ends, with what it cost (the decision's time and latency are kept).
        const records = this.authRecords;
        const record =
          records !== null && records.recorder.active ? records.factory.ofProxy(request.id, request.startedAt, request.req.headers, route.proxy, ctx, undefined) : null;
        return (spend) => {
          if (spend.source !== 'none') {
            metrics.llmTokens.inc({ proxy: route.proxy.name, kind: 'prompt', source: spend.source }, spend.promptTokens);
            metrics.llmTokens.inc({ proxy: route.proxy.name, kind: 'completion', source: spend.source }, spend.completionTokens);
          }
          if (record === null) return;
          const { model, promptTokens, completionTokens, totalTokens } = spend;
          record.llm = { model: model.slice(0, 200), promptTokens, completionTokens, totalTokens, estimated: spend.source === 'estimate' };
          records!.recorder.report(record);
        };
      },
    });
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => this.start({ req, res, id: requestIdOf(req), expectsContinue: false, startedAt: performance.now() });

  /**
   * For requests with `Expect: 100-continue` (the server's 'checkContinue'): route, method, size
   * and policies are checked before the client is told to send its body, so a refused request
   * costs it no upload (RFC 9110 §10.1.1).
   */
  readonly handleExpectingContinue = (req: IncomingMessage, res: ServerResponse): void =>
    this.start({ req, res, id: requestIdOf(req), expectsContinue: true, startedAt: performance.now() });

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
    // A blocked address runs no policy (no argon2 for a guesser); recorded as blocked like the rest.
    const blockedAddress = this.bruteForce === null ? null : this.bruteForce.addressRefusal(clientIp);
    if (blockedAddress !== null) return this.decided(request, route, remainder, ctx, peer, blockedAddress);
    if (proxy.readsRequestBody) return this.authorizeWithBody(request, route, remainder, ctx, peer);
    const outcome = proxy.runPolicies(ctx);
    if (outcome instanceof Promise) {
      return outcome.then((rejection) => this.decided(request, route, remainder, ctx, peer, rejection));
    }
    this.decided(request, route, remainder, ctx, peer, outcome);
  }

  /**
   * The chain's verdict: reported to the auth records (when anyone listens), then forwarded or
   * refused. A call the chain lets through to an LLM route is recorded by the route once its body
   * was checked: refused there, or with its token spend when it ends.
   */
  private decided(request: ProxiedRequest, route: ProxyRoute, remainder: string, ctx: RequestContext, peer: string, chainRejection: PolicyRejection | undefined): void {
    // A locked credential is refused whatever the chain decided: a right password neither passes nor ends the lock.
    const rejection = this.bruteForce === null ? chainRejection : this.bruteForce.credentialRefusal(ctx, route.proxy.projectId, chainRejection);
    if (rejection !== undefined || route.proxy.llm === null || request.req.method !== 'POST') this.record(request, route, ctx, rejection);
    if (rejection !== undefined) this.reject(request, route, rejection);
    else this.forward(request, route, remainder, ctx, peer);
  }

  private record(request: ProxiedRequest, route: ProxyRoute, ctx: RequestContext, rejection: PolicyRejection | undefined): void {
    const records = this.authRecords;
    // A proxy without authentication records its refusals (a rate limit) but not every pass.
    if (records !== null && records.recorder.wants(rejection !== undefined) && (rejection !== undefined || route.proxy.authenticationPolicy !== null)) {
      records.recorder.report(records.factory.ofProxy(request.id, request.startedAt, request.req.headers, route.proxy, ctx, rejection));
    }
  }

  /**
   * A proxy whose policies read the body (JOSE): the body is read whole (bounded) before the
   * chain, and what the policies left in `ctx.body` goes upstream. The client is told to send it
   * first (`100 Continue`): the checks that need no body already passed.
   */
  private async authorizeWithBody(request: ProxiedRequest, route: ProxyRoute, remainder: string, ctx: RequestContext, peer: string): Promise<void> {
    if (request.expectsContinue) request.res.writeContinue();
    try {
      ctx.body = await readRequestBody(request.req, this.config.bodyLimit);
    } catch (err) {
      if (err instanceof RequestBodyTooLargeError) return this.fail(request, route.metrics, 413, 'payload_too_large', err.message, { connection: 'close' });
      this.log.info({ reqId: request.id, proxy: route.proxy.name, reason: (err as Error).message }, 'client request body failed');
      request.res.destroy();
      return;
    }
    // The 100 is sent: the verdict must not send it again, nor close for it.
    this.decided({ ...request, expectsContinue: false }, route, remainder, ctx, peer, await route.proxy.runPolicies(ctx));
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
    const llm = route.proxy.llm;
    if (llm !== null && raw.method === 'POST') {
      this.llmCalls.forward(request, route, llm, ctx, path, headers, this.bodyOf(raw)).catch((err: unknown) => this.failInternally(request, err));
      return;
    }
    if (request.expectsContinue) request.res.writeContinue();
    const exchange =
      route.proxy.runResponsePolicies === null
        ? new UpstreamExchange(request, route, this.log, ctx.responseHeaders)
        : new BufferedUpstreamExchange(request, route, this.log, ctx.responseHeaders, ctx, this.config.bodyLimit);
    exchange.send(path, raw.method!, headers, route.proxy.readsRequestBody ? bufferedBody(headers, ctx) : this.bodyOf(raw));
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

/** The body the policies left (maybe rewritten), framed by its length; the client's framing headers no longer apply. */
function bufferedBody(headers: Record<string, string | string[]>, ctx: RequestContext): Buffer | null {
  delete headers['transfer-encoding'];
  delete headers['content-length'];
  if (ctx.bodyContentType !== null) headers['content-type'] = ctx.bodyContentType;
  if (ctx.body === null) return null;
  headers['content-length'] = String(ctx.body.length);
  return ctx.body;
}
