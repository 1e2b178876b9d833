// Child-process bookkeeping for the benchmark: every process the run starts is registered here
// so that one cleanup (normal end, error, Ctrl-C, watchdog) stops all of them.
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const children = new Set();

/** Spawns a tracked child; stdout/stderr go to `logFile` (and are kept in a small tail buffer). */
export function startProcess(command, args, { env, cwd, logFile, stdin = 'ignore' } = {}) {
  const child = spawn(command, args, { env: env ?? process.env, cwd, stdio: [stdin, 'pipe', 'pipe'] });
  const log = logFile ? createWriteStream(logFile) : null;
  child.tail = '';
  // A process profiling itself writes its profile on exit: megabytes, slow on a loaded machine.
  child.graceMs = args.some((a) => String(a).startsWith('--cpu-prof') || String(a).startsWith('--heap-prof')) ? 60_000 : 3000;
  const keep = (chunk) => {
    log?.write(chunk);
    child.tail = (child.tail + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
  child.exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      log?.end();
      resolve({ code, signal });
    }),
  );
  children.add(child);
  return child;
}

/**
 * Starts `node ...args`, or `wrap[0] ...wrap[1..] node ...args` when a wrapper is given (e.g.
 * valgrind for bench/instructions.mjs): the wrapper execs node in place, so the pid is node's.
 */
export function startNode(args, options, wrap = []) {
  return wrap.length === 0 ? startProcess(process.execPath, args, options) : startProcess(wrap[0], [...wrap.slice(1), process.execPath, ...args], options);
}

/** Resolves with the first stdout line that parses as JSON and has `port` (our helper scripts print one). */
export function waitForPortLine(child, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no port announced within ${timeoutMs} ms; output:\n${child.tail}`)), timeoutMs);
    const onData = (chunk) => {
      buf += chunk.toString('utf8');
      for (const line of buf.split('\n')) {
        try {
          const msg = JSON.parse(line);
          if (typeof msg.port === 'number') {
            clearTimeout(timer);
            child.stdout.off('data', onData);
            resolve(msg.port);
            return;
          }
        } catch {
          /* not our line */
        }
      }
    };
    child.stdout.on('data', onData);
    child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`process exited (code ${code}, signal ${signal}) before listening; output:\n${child.tail}`));
    });
  });
}

export async function stopProcess(child, signal = 'SIGTERM', graceMs = child.graceMs ?? 3000) {
  if (!children.has(child)) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAll() {
  await Promise.all([...children].map((c) => stopProcess(c)));
}

/** Last resort on process exit: synchronous, no waiting. */
export function killAllNow() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** A port that was free a moment ago on loopback (nginx needs it up front). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** pid plus all descendants (nginx master + worker), via /proc/<pid>/task/<tid>/children. */
export function processTree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const kids = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim();
      if (kids) out.push(...kids.split(/\s+/).map(Number));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const CLOCK_TICKS = 100; // USER_HZ on Linux x86_64/arm64

/** utime + stime in seconds. */
export function cpuSeconds(pid) {
  const { userSeconds, systemSeconds } = processCounters(pid);
  return userSeconds + systemSeconds;
}

/** CPU in user and kernel mode (seconds) and minor page faults so far, from /proc/<pid>/stat (zeros once it is gone). */
export function processCounters(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userSeconds: Number(fields[11]) / CLOCK_TICKS, systemSeconds: Number(fields[12]) / CLOCK_TICKS, minorFaults: Number(fields[7]) };
  } catch {
    return { userSeconds: 0, systemSeconds: 0, minorFaults: 0 };
  }
}

/**
 * How long the process's main thread has run on a CPU and waited for one, ms (the kernel's
 * schedstat; zeros once it is gone). On 2 shared cores part of any latency is the second.
 */
export function mainThreadSchedMs(pid) {
  try {
    const [ran, waited] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'latin1').split(' ').map(Number);
    return { ranMs: ran / 1e6, waitedMs: waited / 1e6 };
  } catch {
    return { ranMs: 0, waitedMs: 0 };
  }
}

/**
 * Samples RSS (sum over the process tree) every `intervalMs` and CPU time at start/stop.
 * `stop()` returns { maxRssMb, cpuSeconds }.
 */
export function sampleProcess(pid, intervalMs = 100) {
  const treeCpu = () => processTree(pid).reduce((s, p) => s + cpuSeconds(p), 0);
  const cpuStart = treeCpu();
  let maxKb = 0;
  const tick = () => {
    const kb = processTree(pid).reduce((s, p) => s + rssKb(p), 0);
    if (kb > maxKb) maxKb = kb;
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return { maxRssMb: Math.round((maxKb / 1024) * 10) / 10, cpuSeconds: Math.round((treeCpu() - cpuStart) * 100) / 100 };
    },
  };
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function systemBusySeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f; // idle and iowait are not busy time
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
