import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';

/**
 * The headers of an event stream. Nest's @Sse also sends `Expire: 0`, which is no HTTP header
 * (the one that exists is `Expires`, and `Cache-Control: no-store` already says it all), so the
 * stream is written here instead. `X-Accel-Buffering: no` keeps nginx from holding events back.
 */
const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-store, no-transform',
  'x-accel-buffering': 'no',
} as const;

/**
 * Writes every value of `events` as one `data:` event (JSON, one line) until the client leaves or
 * the observable ends. Errors thrown before this is called (a missing permission) are still
 * answered as problems: the reply is taken over from Fastify only here.
 */
export function sendServerSentEvents(request: FastifyRequest, reply: FastifyReply, events: Observable<unknown>): void {
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, { ...EVENT_STREAM_HEADERS, 'x-request-id': String(request.id) });
  response.flushHeaders();
  const subscription = events.subscribe({
    next: (data) => response.write(`data: ${JSON.stringify(data)}\n\n`),
    error: () => response.end(),
    complete: () => response.end(),
  });
  response.once('close', () => subscription.unsubscribe());
}
