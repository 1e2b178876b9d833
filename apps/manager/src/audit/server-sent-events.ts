import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
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
  // The socket goes with the stream: when the stream ends (the Manager shuts down), a kept-alive
  // socket would hold server.close() until the client leaves.
  connection: 'close',
} as const;

/** The open streams of each server: a tail never ends by itself, and server.close() waits for every connection that is not idle. */
const openStreams = new WeakMap<FastifyInstance, Set<ServerResponse>>();

/**
 * Ends every open event stream when the server closes, so a Manager shuts down (and drains its
 * other requests) at once instead of waiting for each operator's tail to be closed by the browser.
 * A client's EventSource reconnects to another Manager by itself.
 */
export function endEventStreamsOnClose(fastify: FastifyInstance): void {
  const streams = new Set<ServerResponse>();
  openStreams.set(fastify, streams);
  fastify.addHook('preClose', (done) => {
    for (const response of streams) response.end();
    done();
  });
}

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
  const streams = openStreams.get(request.server);
  streams?.add(response);
  response.once('close', () => {
    streams?.delete(response);
    subscription.unsubscribe();
  });
}
