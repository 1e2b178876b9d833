import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { TokenHttpHandler } from '../token-service/token-http.handler';
import { isGatewayEndpoint } from './gateway-endpoints';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Longer than the usual 60 s idle timeout of load balancers in front, so they close first. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

export interface GatewayTlsOptions {
  cert: Buffer;
  key: Buffer;
}

/** The three kinds of traffic one listening socket carries. */
export interface GatewayRouting {
  /** Everything outside the reserved prefixes. */
  proxy: RequestListener;
  /** `/credential`, `/auth`, the token service metadata at the root. */
  tokens: RequestListener;
  /** The rest of the reserved prefixes (`/health`, `/metrics`): Nest's, on the control thread. */
  control: RequestListener;
}

/**
 * The Gateway's listening sockets, owned by the data-plane thread: one HTTP socket and, with
 * `tls`, one HTTPS socket, both dispatching by path to the proxy handler, the token service
 * handler (plain node:http listeners for the two hot paths) or the relay to Nest.
 *
 * The HTTPS socket asks every client for a certificate but accepts the handshake without one or
 * with one it cannot verify (`rejectUnauthorized: false`): whether a certificate is needed, and
 * which CAs it must chain to, is the mtls-auth policy's decision per proxy and credential, so
 * proxies that authenticate otherwise work over HTTPS unchanged.
 */
export class GatewayHttpServer {
  readonly server: Server;
  private readonly tlsServer: HttpsServer | null = null;

  constructor(routing: GatewayRouting, tls: GatewayTlsOptions | null = null) {
    const { proxy, tokens, control } = routing;
    const dispatch: RequestListener = (req, res) => {
      const url = req.url ?? '/';
      if (!isGatewayEndpoint(url)) proxy(req, res);
      else if (TokenHttpHandler.serves(url)) tokens(req, res);
      else control(req, res);
    };
    this.server = createServer(dispatch);
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    if (tls !== null) {
      this.tlsServer = createHttpsServer({ cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false }, dispatch);
      this.tlsServer.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      // The certificate a request is judged by must be the one of the handshake: no client-initiated
      // renegotiation to swap it mid-connection.
      this.tlsServer.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
      // A failed handshake (no TLS, bad certificate encoding) only closes that connection.
      this.tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());
    }
  }

  /** Starts the HTTP listener; resolves to its port. */
  listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host);
  }

  /** Starts the HTTPS listener; resolves to its port. */
  listenTls(port: number, host: string): Promise<number> {
    if (this.tlsServer === null) throw new Error('no TLS listener configured');
    return listenOn(this.tlsServer, port, host);
  }

  /** Stops accepting connections; in-flight requests finish, idle keep-alive sockets close. */
  async close(): Promise<void> {
    await Promise.all([this.server, this.tlsServer].map((server) => (server === null ? undefined : closeServer(server))));
  }
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
