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
  private readonly waiting: { resolve: (line: Record<string, unknown>) => void; reject: (err: Error) => void }[] = [];
  /** The child's last output lines, for the error when it does not answer. */
  private output: string[] = [];
  port = 0;

  constructor(readonly algorithm: 'RS256' | 'ES256' | 'EdDSA') {}

  get issuer(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Once more if the first child does not announce its port in time: CI once waited the whole
   * 120 s hook timeout for one, with nothing to say why; now it says, and a transient is retried.
   */
  async start(): Promise<void> {
    try {
      await this.spawnAndListen();
    } catch {
      this.stop();
      await this.spawnAndListen();
    }
  }

  private async spawnAndListen(): Promise<void> {
    this.output = [];
    const child = spawn(process.execPath, [join(__dirname, 'oidc-issuer.mjs'), this.algorithm], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (line: string) => (this.output = [...this.output.slice(-19), line]);
    createInterface({ input: child.stderr }).on('line', keep);
    // Only the child's JSON lines answer; anything else it prints is kept for the error.
    createInterface({ input: child.stdout }).on('line', (line) => (line.startsWith('{') ? this.waiting.shift()?.resolve(JSON.parse(line) as Record<string, unknown>) : keep(line)));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      for (const w of this.waiting.splice(0)) w.reject(new Error(`the ${this.algorithm} issuer exited (${code ?? signal}): ${this.output.join(' | ')}`));
    });
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

  /** The child's next answer, at most 30 s away (it starts in well under a second). */
  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (line: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(new Error(`the ${this.algorithm} issuer did not answer in 30 s: ${this.output.join(' | ')}`));
      }, 30_000);
      this.waiting.push(waiter);
    });
  }
}
