import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from './eventually';

export const REPO_ROOT = join(__dirname, '..', '..', '..');

/**
 * The node flags production starts the Gateway with (scripts/start.mjs, the Dockerfile, the Helm
 * chart), read from the same built module they read: an e2e spec must see the Gateway as it runs.
 */
export function gatewayNodeFlags(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return [...(require(join(REPO_ROOT, 'apps/gateway/dist/config/node-flags.js')) as { RECOMMENDED_NODE_FLAGS: readonly string[] }).RECOMMENDED_NODE_FLAGS];
}

/** A built app (dist) run as its own process, the way it runs in production. */
export class AppProcess {
  private child?: ChildProcess;
  readonly output: string[] = [];

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly env: Record<string, string>,
    readonly baseUrl: string,
    private readonly nodeFlags: readonly string[] = [],
  ) {}

  /** A built Gateway (apps/gateway/dist/main.js) started with its production node flags. */
  static gateway(name: string, env: Record<string, string>, baseUrl: string): AppProcess {
    return new AppProcess(name, 'apps/gateway/dist/main.js', env, baseUrl, gatewayNodeFlags());
  }

  /** `timeoutMs`: generous, a Manager's boot took 22 s under a load average of 34; a stuck one still fails. */
  async start(readyPath = '/health/ready', timeoutMs = 90000): Promise<void> {
    await this.startUntil(() => fetch(this.baseUrl + readyPath).then((r) => r.status === 200), timeoutMs);
  }

  /** For a process without an HTTP listener (the indexer): started once its output has a line matching `ready`. */
  async startUntilOutput(ready: RegExp, timeoutMs = 90000): Promise<void> {
    await this.startUntil(() => Promise.resolve(ready.test(this.output.join(''))), timeoutMs);
  }

  private async startUntil(isReady: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    this.child = spawn(process.execPath, [...this.nodeFlags, join(REPO_ROOT, this.script)], { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => this.output.push(chunk.toString());
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    const child = this.child;
    let onExit: (code: number | null, signal: string | null) => void = () => undefined;
    // A process that died will never be ready: say so now, not after the timeout.
    const died = new Promise<never>((_, fail) => (onExit = (code, signal) => fail(new Error(`${this.name} exited (${code ?? signal})`))));
    child.once('exit', onExit);
    try {
      await Promise.race([eventually(isReady, Boolean, { timeoutMs, what: `${this.name} to be ready` }), died]);
    } catch (err) {
      // The output as it is when waiting ends (it is empty when the wait starts).
      throw new Error(`${(err as Error).message}\n${this.name} output: ${this.output.join('').slice(-2000)}`, { cause: err });
    } finally {
      child.off('exit', onExit);
    }
  }

  /** Resolves with how the process ended (none when it was not running); SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return undefined;
    return new Promise((resolve) => {
      child.once('exit', (code, ended) => resolve({ code, signal: ended }));
      child.kill(signal);
      setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
    });
  }
}

/** A private redis-server, so a test can stop and restart "the" Redis without touching others. */
export class RedisProcess {
  private child?: ChildProcess;
  /** `persistDir`: an append-only file there, fsynced on every write, so a killed server restarts with every acknowledged write. */
  constructor(
    readonly port: number,
    private readonly options: { persistDir?: string } = {},
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const persistence = this.options.persistDir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.options.persistDir];
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: 'ignore' });
    const { default: Redis } = await import('ioredis');
    await eventually(
      async () => {
        const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        try {
          await probe.connect();
          return await probe.ping();
        } finally {
          probe.disconnect();
        }
      },
      (pong) => pong === 'PONG',
      { what: 'redis-server' },
    );
  }

  /** Stops the server without closing its connections: they stay open and nothing is answered (a hung server, a partition that drops packets). */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    const child = this.child;
    // Killed by a signal, a child's exitCode stays null: a second stop would wait for an exit long gone.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
