import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestIdOf } from '../logging/request-id';
import { writeProxyError } from '../proxy/proxy-error.reply';
import type { ControlReply, ControlRequest } from './thread-messages';

/** Health and metrics requests carry no body worth the name. */
const MAX_BODY_BYTES = 64 * 1024;
/** A control thread that has not answered by now is stuck: say so rather than hang the client. */
const REPLY_TIMEOUT_MS = 10_000;
/** Connection-level headers of the relayed answer; this socket has its own. */
const NOT_RELAYED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

/**
 * The data plane's listener for Nest's endpoints (`/health`, `/metrics`): reads the request,
 * hands it to the control thread, writes back what Nest answered. So /health/live answers only
 * while both threads' event loops do.
 */
export class ControlRelay {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: ControlReply | null) => void>();

  constructor(
    private readonly send: (id: number, request: ControlRequest) => void,
    private readonly replyTimeoutMs = REPLY_TIMEOUT_MS,
  ) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return writeProxyError(res, requestIdOf(req), 413, 'payload_too_large', `The request body exceeds ${MAX_BODY_BYTES} bytes`);
      const request: ControlRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        remoteAddress: req.socket.remoteAddress ?? '',
        body: size === 0 ? null : Buffer.concat(chunks),
      };
      void this.relay(request).then((reply) => {
        if (reply === null) return writeProxyError(res, requestIdOf(req), 503, 'control_unavailable', 'The gateway did not answer in time');
        for (const [name, value] of Object.entries(reply.headers)) if (value !== undefined && !NOT_RELAYED.has(name.toLowerCase())) res.setHeader(name, value);
        res.statusCode = reply.status;
        res.end(reply.body);
      });
    });
    req.on('error', () => res.destroy());
  };

  /** The control thread's answer to request `id`. */
  settle(id: number, reply: ControlReply): void {
    this.waiting.get(id)?.(reply);
  }

  private relay(request: ControlRequest): Promise<ControlReply | null> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), this.replyTimeoutMs);
      const finish = (reply: ControlReply | null) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(reply);
      };
      this.waiting.set(id, finish);
      this.send(id, request);
    });
  }
}
