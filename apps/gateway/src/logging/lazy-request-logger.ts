import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

/**
 * Fastify gives every request a child logger bound to its request id. Creating a pino child
 * costs about as much as the rest of a proxied request's own work, and most proxied requests
 * never log (access logging is off on the hot path). This stand-in creates the child only
 * when a line is actually written, so the id is still on every line that is.
 */
class LazyRequestLogger {
  private resolved: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get level(): string {
    return this.parent.level;
  }

  private resolve(): FastifyBaseLogger {
    return (this.resolved ??= this.parent.child(this.bindings, this.options));
  }

  fatal(...args: Parameters<FastifyBaseLogger['fatal']>): void {
    this.resolve().fatal(...args);
  }
  error(...args: Parameters<FastifyBaseLogger['error']>): void {
    this.resolve().error(...args);
  }
  warn(...args: Parameters<FastifyBaseLogger['warn']>): void {
    this.resolve().warn(...args);
  }
  info(...args: Parameters<FastifyBaseLogger['info']>): void {
    this.resolve().info(...args);
  }
  debug(...args: Parameters<FastifyBaseLogger['debug']>): void {
    this.resolve().debug(...args);
  }
  trace(...args: Parameters<FastifyBaseLogger['trace']>): void {
    this.resolve().trace(...args);
  }
  silent(...args: Parameters<FastifyBaseLogger['silent']>): void {
    this.resolve().silent(...args);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.resolve().child(bindings, options);
  }
}

/** Fastify `childLoggerFactory`. */
export function lazyRequestLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(parent, bindings, options);
}
