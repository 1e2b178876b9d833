import { requestIdOf } from '@idm/platform';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { GatewayConfig } from '../config/gateway-config';
import { writeProxyError } from './proxy-error.reply';
import { TokenHttpHandler } from '../token-service/token-http.handler';
import { watchBodyProgress } from './body-progress';
import { answerClientError } from './client-error.reply';
import { isGatewayEndpoint } from './gateway-endpoints';
import { framingRefusal } from './request-framing';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Longer than the usual 60 s idle timeout of load balancers in front, so they close first. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** Refused before the body was read: the connection closes rather than wait for a body that may never come. */
const CLOSE = { connection: 'close' } as const;

export interface GatewayTlsOptions {
  cert: Buffer;
  key: Buffer;
}

export type ClientTimeouts = GatewayConfig['clientTimeouts'];

/** The production defaults (gateway-config.ts); in-process tests construct the server without config. */
const DEFAULT_CLIENT_TIMEOUTS: ClientTimeouts = { headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, bodyTimeoutMs: 10_000 };

/**
 * For Nest's FastifyAdapter (`clientErrorHandler`): the server answers client errors itself
 * (answerClientError); Fastify's default handler would write a second answer on the same socket.
 */
export function leaveClientErrorsToServer(): void {}

/**
 * One listening socket, three request listeners behind it: the proxy handler and the token
 * service handler, plain node:http listeners for the two hot paths, and Nest's Fastify instance
 * for the rest of the Gateway's own endpoints (health, metrics). Nest's adapter adds six
 * lifecycle hooks to every route, Fastify its request/reply objects and body parsing; measured
 * here they cost a noticeable share of a proxied request or an issued token, so that traffic
 * never enters Fastify. Used as the Nest adapter's `serverFactory`; the two hot-path listeners
 * are attached once their handlers exist (before the server listens).
 *
 * The server itself holds every request to HTTP/1.1 framing before any of the three sees it
 * (request-framing.ts), answers what node:http could not parse or what arrived too slowly
 * (client-error.reply.ts, body-progress.ts, node's head and request timeouts) in the Gateway's
 * error shape, and decides `Expect: 100-continue` itself instead of letting node send 100 at once.
 *
 * With `tls`, a second, HTTPS listening socket feeds the same dispatch (`listenTls`). It asks
 * every client for a certificate but accepts the handshake without one or with one it cannot
 * verify (`rejectUnauthorized: false`): whether a certificate is needed, and which CAs it must
 * chain to, is the mtls-auth policy's decision per proxy and credential, so proxies that
 * authenticate otherwise work over HTTPS unchanged.
 */
export class GatewayHttpServer {
  private proxyRouting: RequestListener | undefined;
  private tokenRouting: RequestListener | undefined;
  private proxyContinueRouting: RequestListener | null = null;
  private tlsServer: HttpsServer | null = null;

  constructor(
    private readonly tls: GatewayTlsOptions | null = null,
    private readonly timeouts: ClientTimeouts = DEFAULT_CLIENT_TIMEOUTS,
  ) {}

  readonly serverFactory = (nestRouting: RequestListener): Server => {
    const { bodyTimeoutMs } = this.timeouts;
    const route = (req: IncomingMessage, res: ServerResponse, url: string): void => {
      watchBodyProgress(req, res, bodyTimeoutMs);
      if (!isGatewayEndpoint(url)) this.proxyRouting!(req, res);
      else if (TokenHttpHandler.serves(url)) this.tokenRouting!(req, res);
      else nestRouting(req, res);
    };
    const dispatch: RequestListener = (req, res) => {
      const refused = framingRefusal(req);
      if (refused !== null) return writeProxyError(res, requestIdOf(req), refused.status, refused.code, refused.message, CLOSE);
      route(req, res, req.url ?? '/');
    };
    // `Expect: 100-continue`: node would answer 100 before any listener runs, and the client would
    // upload its whole body to be refused. Proxy traffic runs its routing and policies first (the
    // proxy handler answers 100 only when it forwards); the Gateway's own endpoints accept it.
    const dispatchExpectingContinue: RequestListener = (req, res) => {
      const refused = framingRefusal(req);
      if (refused !== null) return writeProxyError(res, requestIdOf(req), refused.status, refused.code, refused.message, CLOSE);
      const url = req.url ?? '/';
      if (!isGatewayEndpoint(url) && this.proxyContinueRouting !== null) {
        // The client holds its body back until told to continue, so its silence counts from the
        // 100: a policy that takes its time (a password check on a busy machine) is no stall.
        const writeContinue = res.writeContinue.bind(res);
        res.writeContinue = (callback?: () => void) => {
          writeContinue(callback);
          watchBodyProgress(req, res, bodyTimeoutMs);
        };
        return this.proxyContinueRouting(req, res);
      }
      res.writeContinue();
      route(req, res, url);
    };
    const options: ServerOptions = {
      headersTimeout: this.timeouts.headersTimeoutMs,
      requestTimeout: this.timeouts.requestTimeoutMs,
      // node checks these timeouts on an interval (30 s by default, which would make a 10 s timeout
      // fire after up to 40 s); a quarter of the head timeout, at most a second, keeps the 408 prompt.
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(this.timeouts.headersTimeoutMs / 4)),
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      // Checked in dispatch instead, to answer with a body (request-framing.ts).
      requireHostHeader: false,
    };
    const serve = (server: Server | HttpsServer) => {
      server.on('clientError', answerClientError);
      server.on('checkContinue', dispatchExpectingContinue);
      // Any other expectation (RFC 9110 §10.1.1: 417), with the Gateway's error body.
      server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
        writeProxyError(res, requestIdOf(req), 417, 'expectation_failed', 'Only the 100-continue expectation is supported', CLOSE),
      );
    };
    const server = createServer(options, dispatch);
    serve(server);
    if (this.tls !== null) {
      this.tlsServer = createHttpsServer({ ...options, cert: this.tls.cert, key: this.tls.key, requestCert: true, rejectUnauthorized: false }, dispatch);
      serve(this.tlsServer);
      // The certificate a request is judged by must be the one of the handshake: no client-initiated
      // renegotiation to swap it mid-connection.
      this.tlsServer.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
      // A failed handshake (no TLS, bad certificate encoding) only closes that connection.
      this.tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());
    }
    return server;
  };

  /**
   * `proxyContinueRouting` takes proxy requests that carry `Expect: 100-continue` and answers 100
   * itself once it forwards (ProxyRequestHandler.handleExpectingContinue); without it they get
   * 100 at once.
   */
  attach(proxyRouting: RequestListener, tokenRouting: RequestListener, proxyContinueRouting: RequestListener | null = null): void {
    this.proxyRouting = proxyRouting;
    this.tokenRouting = tokenRouting;
    this.proxyContinueRouting = proxyContinueRouting;
  }

  /** Starts the HTTPS listener (after Nest's listen, so both routings are ready); resolves to its port. */
  async listenTls(port: number, host: string): Promise<number> {
    const server = this.tlsServer;
    if (server === null) throw new Error('no TLS listener configured');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as { port: number }).port;
  }

  /** Stops accepting HTTPS connections; in-flight requests finish, idle keep-alive sockets close. */
  async closeTls(): Promise<void> {
    const server = this.tlsServer;
    if (server === null || !server.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }
}
