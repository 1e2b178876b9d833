import type { LoggerService } from '@nestjs/common';
import pino, { type Logger } from 'pino';

/** Nest's own log lines (boot, errors) as pino JSON, on the same stream as the request logs. */
export class JsonLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  /** `destination` lets tests capture the log stream (default: stdout). */
  static create(level: string, destination?: pino.DestinationStream): JsonLogger {
    const options = { level, base: { app: 'manager' }, timestamp: pino.stdTimeFunctions.isoTime, redact: ['req.headers.authorization', '*.password', '*.token'] };
    return new JsonLogger(destination ? pino(options, destination) : pino(options));
  }

  log(message: unknown, context?: string) {
    this.write('info', message, context);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.write('error', message, rest.at(-1) as string | undefined);
  }
  warn(message: unknown, context?: string) {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string) {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string) {
    this.write('trace', message, context);
  }

  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace', message: unknown, context?: string) {
    if (typeof message === 'object' && message !== null) this.pino[level]({ context, ...message });
    else this.pino[level]({ context }, String(message));
  }
}
