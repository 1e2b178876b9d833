import type { PolicyResponse, RequestContext } from '@idm/policies';
import type { Logger } from 'pino';
import type { ProxyRoute } from '../serving/serving-revision';
import type { ProxiedRequest } from './proxied-request';
import { writeProxyError } from '../http/proxy-error.reply';
import { UpstreamExchange } from './upstream-exchange';
import { downstreamResponseHeaders } from './upstream-headers';

/** Response headers a rewritten body invalidates; set again from the new body. */
const BODY_HEADERS = new Set(['content-length', 'transfer-encoding', 'content-encoding', 'etag', 'content-md5', 'digest']);

/**
 * The exchange of a proxy with response-phase policies (JOSE on the upstream's answer): the
 * answer is read whole, up to the body limit, handed to the policies, and written once they
 * passed; a refusal replaces it. Everything else (abort on client close, upstream failures
 * before the head) is the streaming exchange's.
 */
export class BufferedUpstreamExchange extends UpstreamExchange {
  private upstreamStatus = 0;
  private rawHeaders: Buffer[] = [];
  private chunks: Buffer[] = [];
  private size = 0;
  private tooLarge = false;

  constructor(
    request: ProxiedRequest,
    route: ProxyRoute,
    log: Logger,
    policyHeaders: Readonly<Record<string, string>> | null,
    private readonly ctx: RequestContext,
    private readonly bodyLimit: number,
  ) {
    super(request, route, log, policyHeaders);
  }

  override onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.upstreamStatus = statusCode;
    this.rawHeaders = rawHeaders;
    void resume;
    return true;
  }

  override onData(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > this.bodyLimit) this.tooLarge = true;
    else this.chunks.push(chunk);
    return true;
  }

  override onComplete(): void {
    this.done = true;
    void this.finish().catch((err: unknown) => {
      this.log.error({ reqId: this.request.id, err }, 'response policies failed');
      this.answerError(500, 'internal_error', 'The gateway failed to process the response');
    });
  }

  private async finish(): Promise<void> {
    const { route, request } = this;
    route.metrics.observeUpstream((performance.now() - this.started) / 1000);
    if (this.tooLarge) return this.answerError(502, 'upstream_response_too_large', `The upstream's answer exceeds ${this.bodyLimit} bytes`);
    const headers: Record<string, string | string[]> = {};
    for (let i = 0; i < this.rawHeaders.length; i += 2) {
      const name = this.rawHeaders[i].toString('latin1').toLowerCase();
      const value = this.rawHeaders[i + 1].toString('latin1');
      const prior = headers[name];
      headers[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
    }
    const response: PolicyResponse = { status: this.upstreamStatus, headers, body: Buffer.concat(this.chunks, this.size) };
    const rejection = await route.proxy.runResponsePolicies!(this.ctx, response);
    if (rejection !== undefined) {
      this.log.info({ reqId: request.id, proxy: route.proxy.name, status: rejection.status, code: rejection.code }, 'response rejected');
      return this.answerError(rejection.status, rejection.code, rejection.message);
    }
    const raw: Buffer[] = [];
    for (const name in response.headers) {
      if (BODY_HEADERS.has(name)) continue;
      const value = response.headers[name];
      for (const each of Array.isArray(value) ? value : [value]) raw.push(Buffer.from(name, 'latin1'), Buffer.from(each, 'latin1'));
    }
    const head = downstreamResponseHeaders(raw, this.policyHeaders, request.id);
    head.push('content-length', String(response.body.length));
    route.metrics.countResponse(response.status);
    request.res.writeHead(response.status, head);
    request.res.end(response.body);
  }

  private answerError(status: number, code: Parameters<typeof writeProxyError>[3], message: string): void {
    this.route.metrics.countResponse(status);
    writeProxyError(this.request.res, this.request.id, status, code, message);
  }
}
