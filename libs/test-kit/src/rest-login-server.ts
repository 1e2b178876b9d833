import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TestCertificate } from './test-pki';

/** Users of the REST login server: password, then what a successful answer says about them. */
export const REST_USERS: Record<string, { password: string; email: string; name: string; groups: string[] }> = {
  erin: { password: 'erin-pass', email: 'erin@example.test', name: 'Erin Rest', groups: ['admins', 'staff'] },
  frank: { password: 'frank-pass', email: 'frank@example.test', name: 'Frank Rest', groups: ['staff'] },
};

export interface RestLoginRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A real HTTP(S) endpoint that checks passwords the way legacy "authentication APIs" do, for
 * identity sources of type rest, plus the hostile behaviours a source must survive, by path:
 *  - /login: JSON or form body {username, password}; 200 {authenticated: true, user: {...}} or 401;
 *    requires `Authorization: Bearer <apiKey>` when an apiKey is set (else 403);
 *  - /soft-login: always 200, {authenticated: false} for a wrong password;
 *  - /slow: never answers; /huge: 200 with a megabyte of JSON; /broken: 500; /garbage: 200 text;
 *  - /redirect: 302 to /login (a client that follows it would log the user in).
 * Every request is recorded (path, headers, raw body) for assertions.
 */
export class RestLoginServer {
  readonly requests: RestLoginRequest[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: ReturnType<typeof createHttpServer>,
    readonly url: string,
  ) {}

  static async start(options: { apiKey?: string; tls?: TestCertificate } = {}): Promise<RestLoginServer> {
    const ref: { self?: RestLoginServer } = {};
    const handler = (req: IncomingMessage, res: ServerResponse) => void ref.self!.handle(req, res, options.apiKey);
    const server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createHttpServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    const self = (ref.self = new RestLoginServer(server, `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`));
    server.on('connection', (s: Socket) => {
      self.sockets.add(s);
      s.on('close', () => self.sockets.delete(s));
    });
    return self;
  }

  hits(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, apiKey: string | undefined): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    this.requests.push({ path, headers: req.headers, body });
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    switch (path) {
      case '/slow':
        return; // holds the request open until the client gives up (or close() destroys the socket)
      case '/huge':
        return void json(200, { authenticated: true, padding: 'x'.repeat(1024 * 1024) });
      case '/broken':
        return void json(500, { error: 'internal' });
      case '/garbage':
        return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>welcome</html>');
      case '/redirect':
        return void res.writeHead(302, { location: '/login' }).end();
      case '/login':
      case '/soft-login': {
        if (apiKey !== undefined && req.headers.authorization !== `Bearer ${apiKey}`) return void json(403, { error: 'bad api key' });
        const fields = credentialsOf(req.headers['content-type'], body);
        const user = fields ? REST_USERS[fields.username] : undefined;
        if (user && fields && user.password === fields.password) return void json(200, { authenticated: true, user: { email: user.email, name: user.name, groups: user.groups } });
        return void (path === '/login' ? json(401, { authenticated: false }) : json(200, { authenticated: false }));
      }
      default:
        return void json(404, { error: 'not found' });
    }
  }
}

function credentialsOf(contentType: string | undefined, body: string): { username: string; password: string } | null {
  try {
    const parsed: Record<string, unknown> = contentType?.startsWith('application/json') ? JSON.parse(body) : Object.fromEntries(new URLSearchParams(body));
    return typeof parsed.username === 'string' && typeof parsed.password === 'string' ? { username: parsed.username, password: parsed.password } : null;
  } catch {
    return null;
  }
}
