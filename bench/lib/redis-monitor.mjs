// Where a change's bytes go over Redis: a MONITOR connection sees every command the server
// receives (with the sending client's address), so the bytes each client sends per command kind
// are counted exactly as RESP; what a PUBLISH delivers is its size times the channel's
// subscribers. Replies are not seen by MONITOR (noted as such). MONITOR's own output counts in
// the server's INFO counters, so it runs after the measured changes, never during them.
import { connectRedis } from './redis.mjs';

const respBytes = (args) => args.reduce((n, a) => n + Buffer.byteLength(String(a)) + String(Buffer.byteLength(String(a))).length + 5, String(args.length).length + 3);

export async function startRedisMonitor(root, url) {
  const control = await connectRedis(root, url, 1);
  const monitor = await control.monitor();
  const byKey = new Map();
  const published = new Map();
  monitor.on('monitor', (_time, args, source) => {
    const command = String(args[0]).toUpperCase();
    // EVAL's first argument is the script: name it by its first line of Lua.
    const what = command === 'EVAL' ? `EVAL ${String(args[1]).trim().split('\n')[0].slice(0, 40)}` : command === 'PUBLISH' ? `PUBLISH ${args[1]}` : command;
    const key = `${source} ${what}`;
    const entry = byKey.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += respBytes(args);
    byKey.set(key, entry);
    if (command === 'PUBLISH') published.set(String(args[1]), (published.get(String(args[1])) ?? 0) + Buffer.byteLength(String(args[2])));
  });
  return {
    /** Bytes per change by "client-name command" (in), and PUBLISH deliveries (out). */
    async stop(changes) {
      monitor.disconnect();
      const names = new Map();
      for (const line of (await control.client('LIST')).split('\n')) {
        const addr = /addr=(\S+)/.exec(line)?.[1];
        if (addr) names.set(addr, /name=(\S*)/.exec(line)?.[1] || '(unnamed)');
      }
      const rows = new Map();
      for (const [key, { count, bytes }] of byKey) {
        const [addr, ...what] = key.split(' ');
        const name = `${names.get(addr) ?? addr} ${what.join(' ')} (in)`;
        const row = rows.get(name) ?? { count: 0, bytes: 0 };
        row.count += count;
        row.bytes += bytes;
        rows.set(name, row);
      }
      for (const [channel, bytes] of published) {
        const [, subscribers] = await control.pubsub('NUMSUB', channel);
        rows.set(`PUBLISH ${channel} delivered to ${subscribers} subscriber(s) (out)`, { count: 0, bytes: bytes * Number(subscribers) });
      }
      control.disconnect();
      return [...rows]
        .map(([name, r]) => ({ name, perChange: Math.round(r.bytes / changes), commandsPerChange: Math.round((r.count / changes) * 10) / 10 }))
        .sort((a, b) => b.perChange - a.perChange);
    },
  };
}
