import { requestIdOf } from '@idm/platform';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { startsWithSegment } from '../http/gateway-endpoints';
import { writeProxyError } from '../http/proxy-error.reply';
import { TokenIssuers } from './issuer-url';
import { replyWith, writeJson, type AnswerHeaders } from './oauth-reply';
import { applyCors } from '../http/token-cors';
import type { TokenCall, TokenEndpoints, TokenFormat } from './token-endpoints';
import { formParameters, queryParameters } from './token-parameters';
import type { AuthRecorder } from '../auth-records/auth-recorder';
import { emptyTokenCallSubject, type AuthRecordFactory } from '../auth-records/auth-record-factory';
import type { OidcProvider } from '../oidc/oidc-provider';
import type { SelfServicePages } from '../oidc/self-service-pages';
import { clientCertificateOf } from './token-binding';

/** The token endpoints' side of the auth records: recorder, factory, and the caller's address as the failure limits read it. */
export interface TokenAuthRecords {
  recorder: AuthRecorder;
  factory: AuthRecordFactory;
  addressOf: (peer: string, headers: IncomingHttpHeaders) => string;
}

type Prefix = '/credential' | '/auth';
type Action = (req: IncomingMessage, res: ServerResponse, endpoints: TokenEndpoints, prefix: Prefix) => void | Promise<void>;

const OIDC_ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/authorize': ['GET', 'POST'],
  '/login': ['POST'],
  '/consent': ['POST'],
  '/external/start': ['POST'],
  '/external/callback': ['GET'],
  '/consents': ['GET', 'POST'],
  '/userinfo': ['GET', 'POST'],
  '/logout': ['GET', 'POST'],
  '/.well-known/openid-configuration': ['GET'],
  // End-user self-service (oidc/self-service-pages.ts): GET the page, POST its form.
  '/create-account': ['GET', 'POST'],
  '/forgot-password': ['GET', 'POST'],
  '/verify-email': ['GET', 'POST'],
  '/reset-password': ['GET', 'POST'],
  '/resend-verification': ['GET', 'POST'],
};

const SELF_SERVICE_PAGES: Readonly<Record<string, (pages: SelfServicePages, req: IncomingMessage, res: ServerResponse, issuer: string) => Promise<void>>> = {
  '/create-account': (pages, req, res, issuer) => pages.register(req, res, issuer),
  '/forgot-password': (pages, req, res, issuer) => pages.forgotPassword(req, res, issuer),
  '/verify-email': (pages, req, res, issuer) => pages.verifyEmail(req, res, issuer),
  '/reset-password': (pages, req, res, issuer) => pages.resetPassword(req, res, issuer),
  '/resend-verification': (pages, req, res, issuer) => pages.resendVerification(req, res, issuer),
};

/** Dynamic client registration (RFC 7591) and, below it, each registered client's configuration endpoint (RFC 7592). */
const REGISTER = '/register';

/** A `saml` identity source's SP endpoints: `<name>/acs`, `<name>/metadata`, and `continue`. */
const SAML_PREFIX = '/external/saml';

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
    /** Where every decision is reported, and how the caller's address is read for it (null: nowhere). */
    private readonly authRecords: TokenAuthRecords | null = null,
    /** The OpenID Provider's pages and endpoints under `/credential` (null: not served). */
    private readonly oidc: OidcProvider | null = null,
  ) {
    const call =
      (endpoint: string, tokenType: TokenFormat | null, fromUrl: boolean, work: (endpoints: TokenEndpoints, call: TokenCall) => Promise<unknown>): Action =>
      (req, res, endpoints, prefix) =>
        this.answer(req, res, endpoints, prefix, fromUrl, { endpoint: prefix + endpoint, tokenType }, (c) => work(endpoints, c));
    const issue = (endpoint: string, format: TokenFormat, fromUrl: boolean) => call(endpoint, format, fromUrl, (endpoints, c) => endpoints.token(c, format));
    this.routes = new Map<string, Record<string, Action>>([
      ['/token', { POST: issue('/token', 'opaque', false), GET: issue('/token', 'opaque', true) }],
      ['/jwt', { POST: issue('/jwt', 'jwt', false), GET: issue('/jwt', 'jwt', true) }],
      ['/jwt/regenerate', { POST: call('/jwt/regenerate', 'jwt', false, (endpoints, c) => endpoints.regenerate(c)) }],
      ['/introspect', { POST: call('/introspect', null, false, (endpoints, c) => endpoints.introspect(c)) }],
      ['/revoke', { POST: call('/revoke', null, false, async (endpoints, c) => (await endpoints.revoke(c), {})) }],
      // RFC 9126: the OpenID Provider's, under /credential only; authenticated and answered like /token.
      [
        '/par',
        {
          POST: (req, res, endpoints, prefix) =>
            prefix === '/credential' && this.oidc !== null
              ? this.answer(req, res, endpoints, prefix, false, { endpoint: '/credential/par', tokenType: null }, (c) => this.oidc!.pushAuthorization(c), 201)
              : this.notFound(req, res),
        },
      ],
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
    if (prefix === '/credential' && this.oidc !== null) {
      const page = this.oidcRoute(path.slice(prefix.length), method);
      if (page !== null) return page(req, res, this.oidc, this.issuers.issuerOf(req.headers, req.socket, prefix));
    }
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
    endpoint: { endpoint: string; tokenType: TokenFormat | null },
    work: (call: TokenCall) => Promise<unknown>,
    successStatus = 200,
  ): Promise<void> {
    const startedAt = performance.now();
    const headers: AnswerHeaders = {};
    applyCors(endpoints.cors(), req.headers.origin, headers, false);
    // RFC 9449 §8: while nonces are required, every answer hands out the current one.
    const nonce = endpoints.dpopNonce();
    if (nonce !== undefined) headers['dpop-nonce'] = nonce;
    const records = this.authRecords !== null && this.authRecords.recorder.active ? this.authRecords : null;
    const subject = records === null ? undefined : emptyTokenCallSubject();
    let issuer: string | null = null;
    const { status, error } = await replyWith(
      res,
      headers,
      this.log,
      async () => {
        issuer = this.issuers.issuerOf(req.headers, req.socket, prefix);
        const params = fromUrl ? queryParameters(req.url ?? '') : await formParameters(req);
        return work({
          issuer,
          authorization: req.headers.authorization,
          params,
          fromUrl,
          headers: req.headers,
          peer: req.socket.remoteAddress,
          subject,
          binding: {
            dpop: req.headers.dpop,
            method: req.method ?? 'POST',
            // The endpoint as clients address it: issuer + the path below the prefix (what a proof's htu names).
            url: issuer + pathOf(req.url ?? '').slice(prefix.length),
            certificate: clientCertificateOf(req),
          },
        });
      },
      successStatus,
    );
    if (records !== null) {
      const clientIp = records.addressOf(req.socket.remoteAddress ?? '', req.headers);
      records.recorder.report(records.factory.ofTokenEndpoint(requestIdOf(req), startedAt, req.headers, clientIp, subject!, { ...endpoint, issuer, status, error }));
    }
  }

  /** The OpenID Provider's own paths (the code grant itself goes through `/token`); null: not one of them. */
  private oidcRoute(subPath: string, method: string): ((req: IncomingMessage, res: ServerResponse, oidc: OidcProvider, issuer: string) => void | Promise<void>) | null {
    if (subPath.startsWith(SAML_PREFIX)) {
      // The ACS takes the IdP's POST; the SP metadata and the continuation are GETs.
      const saml = subPath.slice(SAML_PREFIX.length);
      const allowedSaml = saml.endsWith('/acs') ? ['POST'] : ['GET'];
      if (!allowedSaml.includes(method))
        return (req, res) => writeProxyError(res, requestIdOf(req), 405, 'method_not_allowed', `${method} is not allowed here`, { allow: allowedSaml.join(', ') });
      return (req, res, oidc, issuer) => oidc.externalSaml(req, res, issuer, saml);
    }
    if (subPath === REGISTER || subPath.startsWith(REGISTER + '/')) {
      const client = subPath.slice(REGISTER.length);
      const allowedRegister = client === '' ? ['POST'] : /^\/[^/]+$/.test(client) ? ['GET', 'PUT', 'DELETE'] : null;
      if (allowedRegister === null) return null;
      if (!allowedRegister.includes(method))
        return (req, res) => writeProxyError(res, requestIdOf(req), 405, 'method_not_allowed', `${method} is not allowed here`, { allow: allowedRegister.join(', ') });
      return (req, res, oidc, issuer) => oidc.clientRegistration(req, res, issuer, client);
    }
    const allowed = OIDC_ROUTES[subPath];
    if (allowed === undefined) return null;
    if (!allowed.includes(method))
      return (req, res) => writeProxyError(res, requestIdOf(req), 405, 'method_not_allowed', `${method} is not allowed here`, { allow: allowed.join(', ') });
    if (subPath === '/authorize') return (req, res, oidc, issuer) => oidc.authorize(req, res, issuer);
    if (subPath === '/login') return (req, res, oidc, issuer) => oidc.login(req, res, issuer);
    if (subPath === '/consent') return (req, res, oidc, issuer) => oidc.consent(req, res, issuer);
    if (subPath === '/external/start') return (req, res, oidc, issuer) => oidc.externalStart(req, res, issuer);
    if (subPath === '/external/callback') return (req, res, oidc, issuer) => oidc.externalCallback(req, res, issuer);
    if (subPath === '/consents') return (req, res, oidc, issuer) => oidc.consents(req, res, issuer);
    if (subPath === '/userinfo') return (req, res, oidc, issuer) => oidc.userinfo(req, res, issuer);
    if (subPath === '/logout') return (req, res, oidc, issuer) => oidc.logout(req, res, issuer);
    const selfService = SELF_SERVICE_PAGES[subPath];
    if (selfService) return (req, res, oidc, issuer) => (oidc.selfService ? selfService(oidc.selfService, req, res, issuer) : this.notFound(req, res));
    return (req, res, oidc, issuer) => writeJson(res, 200, { 'cache-control': 'public, max-age=300' }, oidc.discovery(issuer));
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
    return replyWith(res, headers, this.log, () => Promise.resolve(endpoints.metadata(this.issuers.issuerOf(req.headers, req.socket, prefix)))).then(() => undefined);
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

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
