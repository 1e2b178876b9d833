// `npm start` on a terminal: the apps' pino JSON lines made readable (time, level, app, message,
// then the other fields). Anything that is not a pino line passes through unchanged. JSON stays
// the apps' only output format; this runs in start.mjs, between a child's stdout and the terminal.
import { createInterface } from 'node:readline';

const LEVELS = { 10: ['TRACE', 90], 20: ['DEBUG', 36], 30: ['INFO ', 32], 40: ['WARN ', 33], 50: ['ERROR', 31], 60: ['FATAL', 35] };
/** Fields shown in the line's head or meaningless on a laptop. */
const SHOWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'app', 'service', 'context', 'err']);

const paint = (code, text, color) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const value = (v) => (typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v));

/** 'pretty' on a terminal unless LOG_FORMAT=json; 'json' when stdout is a pipe or file unless LOG_FORMAT=pretty. */
export function logFormat(env = process.env, stream = process.stdout) {
  if (env.LOG_FORMAT === 'json' || env.LOG_FORMAT === 'pretty') return env.LOG_FORMAT;
  return stream.isTTY ? 'pretty' : 'json';
}

/** One pino JSON line as one (or, with an error stack, several) readable lines. */
export function prettyLine(line, app, { color = false } = {}) {
  if (!line.startsWith('{')) return line;
  let event;
  try {
    event = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof event?.level !== 'number') return line;
  const [label, code] = LEVELS[event.level] ?? [String(event.level), 0];
  const time = typeof event.time === 'string' ? event.time.slice(11, 23) : new Date(event.time ?? Date.now()).toISOString().slice(11, 23);
  const fields = Object.entries(event)
    .filter(([k]) => !SHOWN.has(k))
    .map(([k, v]) => `${k}=${value(v)}`);
  const err = event.err && typeof event.err === 'object' ? event.err : null;
  const head = [
    paint(2, time, color),
    paint(code, label, color),
    app.padEnd(8),
    `${event.context ? `[${event.context}] ` : ''}${event.msg ?? ''}${err?.message && err.message !== event.msg ? `: ${err.message}` : ''}`,
    fields.length ? paint(2, fields.join(' '), color) : '',
  ];
  const stack = err?.stack && event.level >= 50 ? `\n${String(err.stack).replace(/^/gm, '    ')}` : '';
  return head.filter(Boolean).join(' ') + stack;
}

/** Copies a child's output to `out`, line by line, made readable. */
export function prettyStream(input, out, app, options) {
  createInterface({ input, crlfDelay: Infinity }).on('line', (line) => out.write(`${prettyLine(line, app, options)}\n`));
}
