import { requestIdOf } from '@idm/platform';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayErrorCode } from './gateway-errors';

interface ClientErrorAnswer {
  status: number;
  code: GatewayErrorCode;
  message: string;
}

/** Node's error codes for requests the parser or the server's timers gave up on. */
const ANSWERS: Readonly<Record<string, ClientErrorAnswer>> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request was not received in time' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'The request head is too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, code: 'payload_too_large', message: 'The chunk extensions are too large' },
};
const MALFORMED: ClientErrorAnswer = { status: 400, code: 'malformed_request', message: 'The request is not valid HTTP/1.1' };

/**
 * The server's 'clientError' listener: a request node:http could not parse, or one whose head or
 * body did not arrive within the timeouts. No request listener runs for these, so the answer is
 * written on the socket directly, in the same `{code, message, requestId}` shape as every other
 * error of the Gateway (node's default is a bare status line, Fastify's its own JSON), and the
 * connection is closed: after a parse error or a stalled body its framing cannot be trusted.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody left to read an answer.
  if (err.code === 'ECONNRESET') return void socket.destroy();
  answerOnSocket(socket, (err.code !== undefined && ANSWERS[err.code]) || MALFORMED);
}

/** A request body that stopped arriving (body-progress.ts): 408, like node's request timeout. */
export function answerStalledRequest(socket: Duplex): void {
  answerOnSocket(socket, ANSWERS.ERR_HTTP_REQUEST_TIMEOUT);
}

function answerOnSocket(socket: Duplex, answer: ClientErrorAnswer): void {
  if (!socket.writable) return void socket.destroy();
  // A request timeout can strike while the response is already under way (an upstream answering
  // before the upload ends): a status line now would corrupt it, so the connection just closes.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight?.headersSent) return void socket.destroy();
  const requestId = inFlight?.req ? requestIdOf(inFlight.req) : randomUUID();
  const body = JSON.stringify({ code: answer.code, message: answer.message, requestId });
  socket.end(
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  // Once the answer is out: whatever the client still sends is not read.
  socket.once('finish', () => socket.destroy());
}
