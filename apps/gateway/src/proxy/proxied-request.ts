import type { IncomingMessage, ServerResponse } from 'node:http';

/** What one proxied request carries through the handler and the upstream exchange. */
export interface ProxiedRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The caller's well-formed X-Request-Id or a fresh one; on every log line and error body. */
  readonly id: string;
}
