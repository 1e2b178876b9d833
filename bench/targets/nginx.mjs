// Target (c): Debian's nginx as a one-worker reverse proxy with upstream keep-alive, configured
// from a generated file in the run's temp dir (nothing under /etc is used or changed).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess, stopProcess } from '../lib/processes.mjs';
import { waitForHttp } from '../lib/http.mjs';
import { SkipTarget } from '../lib/skip-target.mjs';

function findNginx() {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) if (existsSync(p)) return p;
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

function aptInstall(log) {
  const apt = (args) =>
    spawnSync('apt-get', args, {
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  for (const pkg of ['nginx-light', 'nginx']) {
    log(`nginx not found; trying apt-get install -y ${pkg}`);
    let r = apt(['install', '-y', '--no-install-recommends', pkg]);
    if (r.status !== 0) {
      log('apt-get install failed; running apt-get update and retrying');
      apt(['update']);
      r = apt(['install', '-y', '--no-install-recommends', pkg]);
    }
    if (r.status === 0 && findNginx()) return null;
    if (r.error?.code === 'ENOENT') return 'apt-get is not available';
    if (pkg === 'nginx') return `apt-get install failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  }
  return 'apt-get install did not provide an nginx binary';
}

function nginxConfig(dir, port, upstreamPort) {
  return `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # Node servers do not cap requests per connection; do not make nginx reconnect every 1000.
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  upstream echo {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

export const nginx = {
  key: 'c',
  name: 'nginx (1 worker)',
  async start({ upstream, tmp, log, allowInstall }) {
    let bin = findNginx();
    if (!bin) {
      if (!allowInstall) throw new SkipTarget('nginx is not installed (BENCH_NO_INSTALL set)');
      if (process.getuid?.() !== 0) throw new SkipTarget('nginx is not installed and this user cannot apt-get install it (not root)');
      const reason = aptInstall(log);
      if (reason) throw new SkipTarget(`nginx could not be installed: ${reason}`);
      bin = findNginx();
    }
    const dir = join(tmp, 'nginx');
    mkdirSync(dir, { recursive: true });
    chmodSync(tmp, 0o755); // workers may drop to an unprivileged user when started as root
    chmodSync(dir, 0o755);
    const port = await freePort();
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, upstream.port));
    const child = startProcess(bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { logFile: join(tmp, 'nginx.log') });
    const url = `http://127.0.0.1:${port}/bench/items`;
    await waitForHttp(url, {}, 200, 10_000, child);
    return { url, headers: {}, pid: child.pid, version: versionOf(bin), stop: () => stopProcess(child, 'SIGQUIT') };
  },
};

function versionOf(bin) {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return (r.stderr || r.stdout || '').trim().replace(/^nginx version:\s*/, '');
}
