import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { TokenHttpHandler } from '../token-service/token-http.handler';
import { isGatewayEndpoint } from './gateway-endpoints';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Longer than the usual 60 s idle timeout of load balancers in front, so they close first. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

export interface GatewayTlsOptions {
  cert: Buffer;
  key: Buffer;
}

/**
 * One listening socket, three request listeners behind it: the proxy handler and the token
 * service handler, plain node:http listeners for the two hot paths, and Nest's Fastify instance
 * for the rest of the Gateway's own endpoints (health, metrics). Nest's adapter adds six
 * lifecycle hooks to every route, Fastify its request/reply objects and body parsing; measured
 * here they cost a noticeable share of a proxied request or an issued token, so that traffic
 * never enters Fastify. Used as the Nest adapter's `serverFactory`; the two hot-path listeners
 * are attached once their handlers exist (before the server listens).
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
  private tlsServer: HttpsServer | null = null;

  constructor(private readonly tls: GatewayTlsOptions | null = null) {}

  readonly serverFactory = (nestRouting: RequestListener): Server => {
    const dispatch: RequestListener = (req, res) => {
      const url = req.url ?? '/';
      if (!isGatewayEndpoint(url)) this.proxyRouting!(req, res);
      else if (TokenHttpHandler.serves(url)) this.tokenRouting!(req, res);
      else nestRouting(req, res);
    };
    const server = createServer(dispatch);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    if (this.tls !== null) {
      this.tlsServer = createHttpsServer({ cert: this.tls.cert, key: this.tls.key, requestCert: true, rejectUnauthorized: false }, dispatch);
      this.tlsServer.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      // The certificate a request is judged by must be the one of the handshake: no client-initiated
      // renegotiation to swap it mid-connection.
      this.tlsServer.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
      // A failed handshake (no TLS, bad certificate encoding) only closes that connection.
      this.tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());
    }
    return server;
  };

  attach(proxyRouting: RequestListener, tokenRouting: RequestListener): void {
    this.proxyRouting = proxyRouting;
    this.tokenRouting = tokenRouting;
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
