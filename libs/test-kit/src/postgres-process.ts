import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { eventually } from './eventually';

/** The server binaries of the installed PostgreSQL (Debian keeps them off the PATH). */
function binary(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) if (existsSync(join(root, version, 'bin', name))) return join(root, version, 'bin', name);
  return name;
}

/**
 * A private PostgreSQL server in a temporary directory, so a test can kill "the" database and
 * start it again without touching the shared one. Runs as the `postgres` user when the test runs
 * as root (PostgreSQL refuses root). fsync stays on: a killed server must keep what it committed.
 */
export class PostgresProcess {
  private child?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'idm-pg-'));
  private readonly asRoot = process.getuid?.() === 0;

  constructor(readonly port: number) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async init(): Promise<void> {
    if (this.asRoot) chownSync(this.dir, Number(spawnSync('id', ['-u', 'postgres']).stdout.toString()), Number(spawnSync('id', ['-g', 'postgres']).stdout.toString()));
    const result = spawnSync(...this.command(binary('initdb'), ['-D', join(this.dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']), { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`initdb failed: ${result.stderr}`);
    await this.start();
  }

  async start(): Promise<void> {
    this.child = spawn(
      ...this.command(binary('postgres'), ['-D', join(this.dir, 'data'), '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=50']),
      { stdio: 'ignore' },
    );
    await eventually(
      async () => {
        const client = new Client({ connectionString: this.url });
        try {
          await client.connect();
          return (await client.query('SELECT 1 AS ok')).rows[0].ok;
        } catch {
          return 0;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      (ok) => ok === 1,
      { what: 'the private PostgreSQL', timeoutMs: 60_000 },
    );
  }

  /** SIGKILL: a crash, not a shutdown. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // The postmaster's pid (under runuser the child is runuser, not PostgreSQL).
    const pid = Number(readFileSync(join(this.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      process.kill(pid, 'SIGKILL');
    });
    // The postmaster's children notice its death and exit; their shared memory must be gone before a restart.
    await eventually(
      async () => spawnSync('pgrep', ['-f', `-D ${join(this.dir, 'data')}`]).status,
      (status) => status !== 0,
      { what: 'the killed PostgreSQL backends to exit', timeoutMs: 20_000 },
    );
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private command(file: string, args: string[]): [string, string[]] {
    return this.asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  }
}
