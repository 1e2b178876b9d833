import { LlmCall, type LlmRoutePolicy, type LlmSpend, type PolicyRejection, type RequestContext, type UsageMeter } from '@idm/policies';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ProxyRoute } from '../serving/serving-revision';
import type { ProxiedRequest } from '../proxy/proxied-request';
import { UpstreamExchange, type AnswerObserver } from '../proxy/upstream-exchange';
import type { OutgoingHeaders } from '../proxy/upstream-headers';

/** What the proxy handler does with a call's decision and its end (answer, auth record, metrics). */
export interface LlmCallHooks {
  /** Answers a call refused here (too large, not an LLM request, model, token quota). */
  refuse(request: ProxiedRequest, route: ProxyRoute, ctx: RequestContext, rejection: PolicyRejection): void;
  /** The call was admitted; the function returned is told what it cost once it ended. */
  admitted(request: ProxiedRequest, route: ProxyRoute, ctx: RequestContext): (spend: LlmSpend) => void;
}

/**
 * Forwards a POST to an LLM route: reads the JSON body (bounded), lets the route's policy admit
 * the call (model allow-list, token quotas), sends the body it returns (with
 * `stream_options.include_usage` added when asked for) and meters the answer while it streams to
 * the client chunk by chunk; when the exchange ends the call is charged what it cost.
 */
export class LlmCallForwarder {
  constructor(
    private readonly log: Logger,
    private readonly bodyLimit: number,
    private readonly hooks: LlmCallHooks,
    private readonly now: () => number = Date.now,
  ) {}

  async forward(
    request: ProxiedRequest,
    route: ProxyRoute,
    llm: LlmRoutePolicy,
    ctx: RequestContext,
    path: string,
    headers: OutgoingHeaders,
    body: Readable | null,
  ): Promise<void> {
    const limit = Math.min(llm.maxRequestBytes, this.bodyLimit);
    if (request.expectsContinue) request.res.writeContinue();
    let raw: Buffer | null;
    try {
      raw = body === null ? Buffer.alloc(0) : await readBounded(body, limit);
    } catch (err) {
      // The client went away (or its body broke off): nobody is left to answer.
      this.log.info({ reqId: request.id, proxy: route.proxy.name, reason: (err as Error).message }, 'client closed the request');
      request.res.destroy();
      return;
    }
    if (raw === null) {
      // The rest of the body is left unread: the connection cannot carry another request.
      const tooLarge: PolicyRejection = { status: 413, code: 'llm_request_too_large', message: `The request body exceeds ${limit} bytes`, headers: { connection: 'close' } };
      return this.hooks.refuse(request, route, ctx, tooLarge);
    }
    const admitted = await llm.admit(ctx, raw, this.now());
    if (!(admitted instanceof LlmCall)) return this.hooks.refuse(request, route, ctx, admitted);
    const call = admitted;
    const ended = this.hooks.admitted(request, route, ctx);
    headers['content-length'] = String(call.request.body.length);
    delete headers['transfer-encoding'];
    // The answer is metered as it passes: it must arrive uncompressed.
    headers['accept-encoding'] = 'identity';
    new UpstreamExchange(request, route, this.log, ctx.responseHeaders, new CallMetering(call, () => ended(this.settled(request, route, ctx, call)))).send(
      path,
      'POST',
      headers,
      call.request.body,
    );
  }

  private settled(request: ProxiedRequest, route: ProxyRoute, ctx: RequestContext, call: LlmCall): LlmSpend {
    const spend = call.settle(this.now());
    this.log.info({ reqId: request.id, proxy: route.proxy.name, credential: ctx.identity?.credentialId, llm: spend }, 'llm call');
    return spend;
  }
}

/** Feeds the answer to the call's meter; settles once when the exchange ends. */
class CallMetering implements AnswerObserver {
  private meter: UsageMeter | null = null;
  private ended = false;

  constructor(
    private readonly call: LlmCall,
    private readonly onEnd: () => void,
  ) {}

  head(status: number, rawHeaders: readonly Buffer[]): void {
    this.meter = this.call.answered(status, headerValue(rawHeaders, 'content-type'));
  }

  chunk(chunk: Buffer): void {
    this.meter?.observe(chunk);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
  }
}

function headerValue(raw: readonly Buffer[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === name.length && raw[i].toString('latin1').toLowerCase() === name) return raw[i + 1].toString('latin1');
  return undefined;
}

/** The whole body, or null as soon as it exceeds `limit` bytes (reading stops there). */
function readBounded(body: Readable, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        body.off('data', onData);
        body.pause();
        resolve(null);
      } else chunks.push(chunk);
    };
    body.on('data', onData);
    body.once('end', () => resolve(Buffer.concat(chunks, size)));
    body.once('error', (err) => (size > limit ? resolve(null) : reject(err)));
  });
}
