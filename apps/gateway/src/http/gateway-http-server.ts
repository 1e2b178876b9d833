import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isGatewayEndpoint } from './gateway-endpoints';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * One listening socket, two Fastify instances behind it: Nest's (the Gateway's own endpoints)
 * and a bare one that carries only the proxy catch-all. Nest's Fastify adapter adds six
 * lifecycle hooks to every route of its instance; measured here they cost about a tenth of a
 * proxied request, so proxy traffic is handed to the bare instance before they can run.
 * Used as the Nest adapter's `serverFactory`; `proxyRouting` is attached once the proxy
 * instance is ready (before the server listens).
 */
export class GatewayHttpServer {
  private proxyRouting: RequestListener | undefined;

  readonly serverFactory = (nestRouting: RequestListener): Server => {
    const server = createServer((req, res) => {
      if (isGatewayEndpoint(req.url ?? '/')) nestRouting(req, res);
      else this.proxyRouting!(req, res);
    });
    // Longer than the usual 60 s idle timeout of load balancers in front, so they close first.
    server.keepAliveTimeout = 72_000;
    return server;
  };

  attachProxy(routing: RequestListener): void {
    this.proxyRouting = routing;
  }
}
