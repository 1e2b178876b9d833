import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A real oidc-provider in a child process (`oidc-issuer.mjs`), driven from a spec: tokens by
 * client_credentials (JWT for `urn:api:jwt`, opaque for `urn:api:opaque`), and commands to
 * rotate its keys, take it down and bring it back on the same port.
 */
export class ExternalIssuerProcess {
  private child!: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: Record<string, unknown>) => void)[] = [];
  port = 0;

  constructor(readonly algorithm: 'RS256' | 'ES256' | 'EdDSA') {}

  get issuer(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [join(__dirname, 'oidc-issuer.mjs'), this.algorithm], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.resume();
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(JSON.parse(line) as Record<string, unknown>));
    this.port = (await this.next()).port as number;
  }

  async command(command: 'rotate' | 'down' | 'up'): Promise<void> {
    const answered = this.next();
    this.child.stdin.write(command + '\n');
    await answered;
  }

  /** `dpop`: a DPoP proof for POST {issuer}/token; oidc-provider then binds the token to its key (cnf.jkt, RFC 9449). */
  async token(resource: 'urn:api:jwt' | 'urn:api:opaque', scope = 'read', dpop?: (tokenEndpoint: string) => Promise<string>): Promise<string> {
    const res = await fetch(`${this.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('gateway:gateway-secret-0123456789').toString('base64')}`,
        ...(dpop && { dpop: await dpop(`${this.issuer}/token`) }),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }).toString(),
    });
    const body = (await res.json()) as { access_token?: string; token_type?: string };
    if (dpop && body.token_type !== 'DPoP') throw new Error(`no DPoP-bound token from ${this.issuer}: ${JSON.stringify(body)}`);
    if (!body.access_token) throw new Error(`no token from ${this.issuer}: ${JSON.stringify(body)}`);
    return body.access_token;
  }

  stop(): void {
    this.child?.stdin.end();
    this.child?.kill();
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}
