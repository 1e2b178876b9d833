// Finds (or starts) the services the apps and tests need: Redis and, for tests, PostgreSQL.
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';

export const hasBinary = (name) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;

/** Resolves true when something answers PING with PONG at host:port. */
export function redisAnswers(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export function tcpAnswers(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => (socket.destroy(), resolve(false)));
    socket.on('error', () => resolve(false));
    socket.on('connect', () => (socket.destroy(), resolve(true)));
  });
}

export async function waitFor(check, { timeoutMs = 30000, intervalMs = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Starts a throw-away redis-server (nothing persisted) on host:port. */
export function startRedisServer(port, { detached = false } = {}) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
    detached,
  });
  if (detached) child.unref();
  return child;
}

export function aptInstall(packages) {
  if (process.getuid?.() !== 0 || !hasBinary('apt-get')) return false;
  console.log(`> apt-get install ${packages.join(' ')}`);
  // A fresh machine may run apt itself (unattended upgrades): wait for its lock rather than fail.
  const waitForLock = ['-o', 'DPkg::Lock::Timeout=300'];
  spawnSync('apt-get', [...waitForLock, 'update', '-qq'], { stdio: 'inherit' });
  return spawnSync('apt-get', [...waitForLock, 'install', '-y', '-qq', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
}
