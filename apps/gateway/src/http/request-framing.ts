import type { IncomingMessage } from 'node:http';
import type { GatewayErrorCode } from './gateway-errors';

export interface FramingRefusal {
  status: number;
  code: GatewayErrorCode;
  message: string;
}

const UNSUPPORTED_TRANSFER_CODING: FramingRefusal = {
  status: 501,
  code: 'unsupported_transfer_coding',
  message: 'Only the chunked transfer coding is supported',
};
const MISSING_HOST: FramingRefusal = { status: 400, code: 'missing_host', message: 'An HTTP/1.1 request must carry a Host header' };
const DUPLICATE_HOST: FramingRefusal = { status: 400, code: 'duplicate_host', message: 'A request must carry exactly one Host header' };

/**
 * What node:http's parser lets through but the Gateway must not serve, checked for every request
 * before any listener sees it (proxy, token service, Nest).
 *
 * - A transfer coding other than `chunked` alone (`gzip, chunked`, `foo, chunked`): the parser
 *   de-chunks the body and drops the rest, so the body would be read as something it is not.
 *   RFC 9112 §6.1: 501 for a coding the server does not understand. (A request whose final
 *   coding is not `chunked` never gets here: its length is unknowable and the parser refuses it.)
 * - No Host on HTTP/1.1 (RFC 9112 §3.2: 400). The server is created with `requireHostHeader:
 *   false` so that this answer carries the Gateway's error body instead of node's empty one.
 * - More than one Host (RFC 9112 §3.2: 400). Node keeps the first and drops the others, while a
 *   proxy or cache in front may have routed on another: the request means different things to each.
 */
export function framingRefusal(req: IncomingMessage): FramingRefusal | null {
  const headers = req.headers;
  const codings = headers['transfer-encoding'];
  if (codings !== undefined && codings !== 'chunked' && codings.trim().toLowerCase() !== 'chunked') return UNSUPPORTED_TRANSFER_CODING;
  if (headers.host === undefined) return req.httpVersionMinor === 1 && req.httpVersionMajor === 1 ? MISSING_HOST : null;
  return hostCount(req.rawHeaders) > 1 ? DUPLICATE_HOST : null;
}

function hostCount(rawHeaders: string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length === 4 && name.toLowerCase() === 'host') count++;
  }
  return count;
}
