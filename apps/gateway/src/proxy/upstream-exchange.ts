import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ProxyRoute } from '../serving/serving-revision';
import type { ProxiedRequest } from './proxied-request';
import { writeProxyError } from '../http/proxy-error.reply';
import { classifyUpstreamFailure, errorCode } from './upstream-failure';
import { downstreamResponseHeaders } from './upstream-headers';

type Abort = (reason?: Error) => void;

/**
 * Watches an answer go by without holding it back (LLM routes meter their calls with it). Told
 * the head, every chunk before it is written to the client, and the end.
 */
export interface AnswerObserver {
  head(status: number, rawHeaders: readonly Buffer[]): void;
  chunk(chunk: Buffer): void;
  /** Once: `complete` false when the exchange failed, was cut short or the client left. */
  end(complete: boolean): void;
}

class ClientGoneError extends Error {
  readonly code = 'IDM_CLIENT_CLOSED';
}

/**
 * One request in flight to an upstream, handed to undici's `dispatch` as its handler: response
 * head and body chunks are written straight into the client response, with backpressure both
 * ways (a full client socket pauses the upstream read). undici's `stream()` does the same through
 * an AsyncResource, a parsed header object and `finished()` with its many listeners per request;
 * this is the hot path, so it stays this small.
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler {
  readonly started = performance.now();
  private abort: Abort | null = null;
  private resume: (() => void) | null = null;
  protected done = false;
  /** The upstream's status once its head is relayed; 0 before. */
  private status = 0;

  constructor(
    readonly request: ProxiedRequest,
    readonly route: ProxyRoute,
    readonly log: Logger,
    /** Headers the policies set for the client (e.g. RateLimit-*); they win over the upstream's. */
    readonly policyHeaders: Readonly<Record<string, string>> | null,
    /** null for plain proxies: one null check per event is all they pay. */
    private readonly observer: AnswerObserver | null = null,
  ) {}

  send(path: string, method: string, headers: Record<string, string | string[]>, body: Readable | Buffer | null): void {
    // If the client goes away first, the upstream request is cancelled (and its connection freed).
    // Never removed: 'close' also follows a finished response, when `done` makes it a no-op, and
    // the response object dies with the request (one listener less to add and remove per request).
    this.request.res.on('close', this.onClientClose);
    this.route.pool!.dispatch({ path, method: method, headers, body }, this);
  }

  onConnect(abort: Abort): void {
    this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: not relayed, the final answer follows
    const { metrics } = this.route;
    metrics.observeUpstream((performance.now() - this.started) / 1000);
    metrics.countResponse(statusCode);
    const { res, id } = this.request;
    this.status = statusCode;
    this.observer?.head(statusCode, rawHeaders);
    res.writeHead(statusCode, downstreamResponseHeaders(rawHeaders, this.policyHeaders, id));
    this.resume = resume;
    return !res.writableNeedDrain;
  }

  onData(chunk: Buffer): boolean {
    const { res } = this.request;
    this.observer?.chunk(chunk);
    if (res.write(chunk)) return true;
    res.once('drain', this.resume!);
    return false;
  }

  onComplete(): void {
    this.done = true;
    this.request.res.end();
    this.observer?.end(true);
  }

  onError(err: Error): void {
    this.done = true;
    this.observer?.end(false);
    const { request, route, log } = this;
    const { req, res } = request;
    if (err instanceof ClientGoneError || req.destroyed || res.destroyed) {
      // The client went away mid-request: nobody is left to answer.
      log.info({ reqId: request.id, proxy: route.proxy.name, reason: errorCode(err) }, 'client closed the request');
      return;
    }
    if (this.status !== 0) return this.failAfterHead(err);
    const failure = classifyUpstreamFailure(err);
    log.warn(
      { reqId: request.id, proxy: route.proxy.name, upstream: route.proxy.upstreamOrigin, code: failure.code, reason: errorCode(err) ?? err.message },
      'upstream request failed',
    );
    route.metrics.countResponse(failure.status);
    writeProxyError(res, request.id, failure.status, failure.code, failure.message);
  }

  /**
   * The head is relayed (and counted): too late for a 502. An answer that has no body by
   * definition is complete with its head, whatever the connection did next: a 204 or 304, or the
   * answer to HEAD. That includes the 304 with a Content-Length (RFC 9110 §8.6 allows it), which
   * undici fails with UND_ERR_RES_CONTENT_LENGTH_MISMATCH because no body followed. Any other
   * answer is cut short: the head goes out and the connection closes without the body's end
   * (no last chunk, fewer bytes than announced), the only way a client can tell it is truncated.
   */
  private failAfterHead(err: Error): void {
    const { request, route, log } = this;
    const { res } = request;
    if (this.status === 204 || this.status === 304 || request.req.method === 'HEAD') {
      res.end();
      return;
    }
    log.warn(
      { reqId: request.id, proxy: route.proxy.name, upstream: route.proxy.upstreamOrigin, status: this.status, reason: errorCode(err) ?? err.message },
      'upstream response cut short',
    );
    res.flushHeaders();
    res.destroy();
  }

  private readonly onClientClose = (): void => {
    if (!this.done) this.abort?.(new ClientGoneError('the client closed the connection'));
  };
}
