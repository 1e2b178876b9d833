import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerStalledRequest } from './client-error.reply';

/**
 * The body idle timeout: a request body that makes no progress for `timeoutMs` is answered 408
 * and its connection closed (and with it any upstream request it was streaming into), where
 * node's whole-request timeout alone would hold it until that runs out. It is the socket's own
 * inactivity timer, refreshed by every chunk read, so a slow body that keeps moving is only held
 * to GATEWAY_REQUEST_TIMEOUT_MS. Armed only for requests that have a body still to come.
 */
export function watchBodyProgress(req: IncomingMessage, res: ServerResponse, timeoutMs: number): void {
  if (req.complete) return;
  const headers = req.headers;
  const length = headers['content-length'];
  if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return;
  req.setTimeout(timeoutMs, () => {
    // Once the answer is complete, node's keep-alive timer owns the socket; this is that timer
    // firing on a body nobody waits for any more: just close.
    if (res.writableFinished) req.socket.destroy();
    else answerStalledRequest(req.socket);
  });
  // The body is in: the timer must not fire while the upstream thinks (node would close the
  // connection for want of a listener). Unless the answer is complete: then node has already
  // replaced it with its keep-alive timer, which must stay.
  req.once('end', () => {
    if (!res.writableFinished) req.socket.setTimeout(0);
  });
}
