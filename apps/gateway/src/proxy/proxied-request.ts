import type { IncomingMessage, ServerResponse } from 'node:http';

/** What one proxied request carries through the handler and the upstream exchange. */
export interface ProxiedRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The caller's well-formed X-Request-Id or a fresh one; on every log line and error body. */
  readonly id: string;
  /** `Expect: 100-continue`: the client waits for our 100, sent only once the request is forwarded. */
  readonly expectsContinue: boolean;
  /** `performance.now()` at arrival: the auth record's latency is measured from it. */
  readonly startedAt: number;
}
