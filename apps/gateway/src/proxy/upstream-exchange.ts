import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ProxyRoute } from '../config-sync/active-configuration';
import type { ProxiedRequest } from './proxied-request';
import { writeProxyError } from './proxy-error.reply';
import { classifyUpstreamFailure, errorCode } from './upstream-failure';
import { downstreamResponseHeaders } from './upstream-headers';

/**
 * One request in flight to an upstream, passed to undici as `opaque` so the response callbacks
 * below are shared functions rather than closures allocated per request. undici pipes the
 * upstream body straight into the client response and ends it.
 */
export class UpstreamExchange {
  readonly started = performance.now();

  constructor(
    readonly request: ProxiedRequest,
    readonly route: ProxyRoute,
    readonly log: Logger,
    /** Headers the policies set for the client (e.g. RateLimit-*); they win over the upstream's. */
    readonly policyHeaders: Readonly<Record<string, string>> | null,
  ) {}

  send(path: string, method: string, headers: Record<string, string | string[]>, body: Readable | null): void {
    // A literal, not a spread of caller options: undici destructures it on every request and
    // a stable object shape keeps that fast.
    this.route.pool!.stream({ path, method: method as Dispatcher.HttpMethod, headers, body, opaque: this }, onUpstreamResponse, onUpstreamDone);
  }
}

function onUpstreamResponse({ statusCode, headers, opaque: exchange }: Dispatcher.StreamFactoryData<UpstreamExchange>): ServerResponse {
  const { metrics } = exchange.route;
  metrics.observeUpstream((performance.now() - exchange.started) / 1000);
  metrics.countResponse(statusCode);
  const outgoing = downstreamResponseHeaders(headers);
  // Into the one object writeHead gets: headers set beforehand with setHeader would send
  // writeHead down its slow path (one validated setHeader call per upstream header).
  const { policyHeaders } = exchange;
  if (policyHeaders !== null) for (const name in policyHeaders) outgoing[name] = policyHeaders[name];
  outgoing['x-request-id'] = exchange.request.id;
  const { res } = exchange.request;
  res.writeHead(statusCode, outgoing);
  return res;
}

function onUpstreamDone(err: Error | null, data: Dispatcher.StreamData<UpstreamExchange>): void {
  if (err === null) return;
  const { request, route, log } = data.opaque;
  const { req, res } = request;
  if (req.destroyed || res.destroyed) {
    // The client went away mid-request: nobody is left to answer.
    log.info({ reqId: request.id, proxy: route.proxy.name, reason: errorCode(err) }, 'client closed the request');
    return;
  }
  const failure = classifyUpstreamFailure(err);
  log.warn({ reqId: request.id, proxy: route.proxy.name, upstream: route.proxy.upstreamOrigin, code: failure.code, reason: errorCode(err) ?? err.message }, 'upstream request failed');
  if (!res.headersSent) route.metrics.countResponse(failure.status);
  writeProxyError(res, request.id, failure.status, failure.code, failure.message);
}
