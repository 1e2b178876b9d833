import { requestIdOf } from '@idm/platform';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { startsWithSegment } from '../http/gateway-endpoints';
import { writeProxyError } from '../http/proxy-error.reply';
import { TokenIssuers } from './issuer-url';
import { replyWith, writeJson, type AnswerHeaders } from './oauth-reply';
import { applyCors } from '../http/token-cors';
import type { TokenCall, TokenEndpoints, TokenFormat } from './token-endpoints';
import { formParameters, queryParameters } from './token-parameters';

type Prefix = '/credential' | '/auth';
type Action = (req: IncomingMessage, res: ServerResponse, endpoints: TokenEndpoints, prefix: Prefix) => void | Promise<void>;

/** RFC 8414 §3.1: the well-known segment goes between host and the issuer's path. */
const METADATA_AT_ROOT = '/.well-known/oauth-authorization-server';

/**
 * HTTP surface of the two token service prefixes (`/credential`: clients are credentials;
 * `/auth`: clients are proxies' token-service settings) and their metadata at the root. A plain
 * node:http listener like the proxy path: issuing a token is the Gateway's second hot path, and
 * a framework's routing, hooks and body parser cost a visible share of it. Decoding the wire
 * format (form body, or the query string for GET where a client allows it) happens here;
 * decisions are TokenEndpoints'.
 */
export class TokenHttpHandler {
  /** Per sub-path of a prefix: its actions by method (OPTIONS, the CORS preflight, on all). */
  private readonly routes: ReadonlyMap<string, Readonly<Record<string, Action>>>;

  constructor(
    private readonly credential: TokenEndpoints,
    private readonly auth: TokenEndpoints,
    private readonly log: Logger,
    /** Issuer URLs (configured public URL, or the request's own host). */
    private readonly issuers: TokenIssuers = new TokenIssuers(null),
  ) {
    const call =
      (fromUrl: boolean, work: (endpoints: TokenEndpoints, call: TokenCall) => Promise<unknown>): Action =>
      (req, res, endpoints, prefix) =>
        this.answer(req, res, endpoints, prefix, fromUrl, (c) => work(endpoints, c));
    const issue = (format: TokenFormat, fromUrl: boolean) => call(fromUrl, (endpoints, c) => endpoints.token(c, format));
    this.routes = new Map<string, Record<string, Action>>([
      ['/token', { POST: issue('opaque', false), GET: issue('opaque', true) }],
      ['/jwt', { POST: issue('jwt', false), GET: issue('jwt', true) }],
      ['/jwt/regenerate', { POST: call(false, (endpoints, c) => endpoints.regenerate(c)) }],
      ['/introspect', { POST: call(false, (endpoints, c) => endpoints.introspect(c)) }],
      ['/revoke', { POST: call(false, async (endpoints, c) => (await endpoints.revoke(c), {})) }],
      ['/.well-known/oauth-authorization-server', { GET: (req, res, endpoints, prefix) => this.metadata(req, res, endpoints, prefix, true) }],
      ['/.well-known/jwks.json', { GET: (req, res, endpoints) => this.jwks(req, res, endpoints) }],
    ]);
  }

  /** True for the URLs this handler serves (the rest of the reserved prefixes stay with Nest). */
  static serves(url: string): boolean {
    return startsWithSegment(url, '/credential') || startsWithSegment(url, '/auth') || startsWithSegment(url, METADATA_AT_ROOT);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    let done: void | Promise<void>;
    try {
      done = this.route(req, res, path, method);
    } catch (err) {
      done = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (done instanceof Promise) done.catch((err: unknown) => this.failInternally(req, res, err));
  };

  private route(req: IncomingMessage, res: ServerResponse, path: string, method: string): void | Promise<void> {
    if (startsWithSegment(path, METADATA_AT_ROOT)) {
      const prefix = path.slice(METADATA_AT_ROOT.length);
      if ((prefix === '/credential' || prefix === '/auth') && method === 'GET') return this.metadata(req, res, prefix === '/auth' ? this.auth : this.credential, prefix, false);
      return this.notFound(req, res);
    }
    const prefix: Prefix = startsWithSegment(path, '/auth') ? '/auth' : '/credential';
    const endpoints = prefix === '/auth' ? this.auth : this.credential;
    const actions = this.routes.get(path.slice(prefix.length));
    if (actions === undefined) return this.notFound(req, res);
    if (method === 'OPTIONS') return this.preflight(req, res, endpoints);
    const action = actions[method];
    if (action === undefined) {
      writeProxyError(res, requestIdOf(req), 405, 'method_not_allowed', `${method} is not allowed here`, { allow: [...Object.keys(actions), 'OPTIONS'].join(', ') });
      return;
    }
    return action(req, res, endpoints, prefix);
  }

  private async answer(
    req: IncomingMessage,
    res: ServerResponse,
    endpoints: TokenEndpoints,
    prefix: Prefix,
    fromUrl: boolean,
    work: (call: TokenCall) => Promise<unknown>,
  ): Promise<void> {
    const headers: AnswerHeaders = {};
    applyCors(endpoints.cors(), req.headers.origin, headers, false);
    await replyWith(res, headers, this.log, async () => {
      const params = fromUrl ? queryParameters(req.url ?? '') : await formParameters(req);
      return work({
        issuer: this.issuers.issuerOf(req.headers, req.socket, prefix),
        authorization: req.headers.authorization,
        params,
        fromUrl,
        headers: req.headers,
        peer: req.socket.remoteAddress,
      });
    });
  }

  /** CORS preflight: 204, with the allow headers only when the Origin is allowed. */
  private preflight(req: IncomingMessage, res: ServerResponse, endpoints: TokenEndpoints): void {
    const headers: AnswerHeaders = {};
    applyCors(endpoints.cors(), req.headers.origin, headers, true);
    res.writeHead(204, headers);
    res.end();
  }

  private metadata(req: IncomingMessage, res: ServerResponse, endpoints: TokenEndpoints, prefix: Prefix, cors: boolean): Promise<void> {
    const headers: AnswerHeaders = {};
    if (cors) applyCors(endpoints.cors(), req.headers.origin, headers, false);
    return replyWith(res, headers, this.log, () => Promise.resolve(endpoints.metadata(this.issuers.issuerOf(req.headers, req.socket, prefix))));
  }

  private jwks(req: IncomingMessage, res: ServerResponse, endpoints: TokenEndpoints): void {
    // Public keys only; caches may keep them briefly, rotation pre-publishes keys well ahead.
    const headers: AnswerHeaders = { 'cache-control': 'public, max-age=300' };
    applyCors(endpoints.cors(), req.headers.origin, headers, false);
    writeJson(res, 200, headers, endpoints.jwks());
  }

  private notFound(req: IncomingMessage, res: ServerResponse): void {
    writeProxyError(res, requestIdOf(req), 404, 'route_not_found', 'No token endpoint is served at this path');
  }

  private failInternally(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const requestId = requestIdOf(req);
    this.log.error({ reqId: requestId, err }, 'token endpoint failed');
    writeProxyError(res, requestId, 500, 'internal_error', 'The gateway failed to process the request');
  }
}
