import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A TCP port on 127.0.0.1 for a process a test starts. "Listen on 0, close, hand out the port"
 * races: the kernel hands that port to the next `listen(0)` or outgoing connection of any
 * process, and parallel spec runs (several engineers, several jest workers) collide. So ports
 * come from below the kernel's ephemeral range (never auto-assigned), and each one is reserved
 * across processes by an exclusive lock file holding the owner's pid; a reservation whose owner
 * died is taken over. A reservation lasts as long as its process (no exit hook: jest's sandboxed
 * `process` never fires one), so a spec run holds a few dozen of the ~12,000 ports at most.
 */
const RANGE = { from: 20000, to: 32000 };
const LOCKS = join(tmpdir(), 'idm-test-ports');
const mine = new Set<number>();

export async function freePort(): Promise<number> {
  mkdirSync(LOCKS, { recursive: true });
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = RANGE.from + Math.floor(Math.random() * (RANGE.to - RANGE.from));
    if (mine.has(port) || !reserve(port)) continue;
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${RANGE.from}-${RANGE.to} after 200 attempts`);
}

function reserve(port: number): boolean {
  const lock = join(LOCKS, String(port));
  try {
    const fd = openSync(lock, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
  } catch {
    if (ownerAlive(lock)) return false;
    rmSync(lock, { force: true }); // its owner died; the next attempt may take it
    return false;
  }
  mine.add(port);
  return true;
}

function ownerAlive(lock: string): boolean {
  try {
    process.kill(Number(readFileSync(lock, 'utf8')), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Someone outside the reservation scheme may still hold it (a server started by hand). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
