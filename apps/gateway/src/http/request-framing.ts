import type { IncomingMessage } from 'node:http';

export interface FramingRefusal {
  status: number;
  code: string;
  message: string;
}

const UNSUPPORTED_TRANSFER_CODING: FramingRefusal = {
  status: 501,
  code: 'unsupported_transfer_coding',
  message: 'Only the chunked transfer coding is supported',
};
const MISSING_HOST: FramingRefusal = { status: 400, code: 'missing_host', message: 'An HTTP/1.1 request must carry a Host header' };

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
 */
export function framingRefusal(req: IncomingMessage): FramingRefusal | null {
  const headers = req.headers;
  const codings = headers['transfer-encoding'];
  if (codings !== undefined && codings !== 'chunked' && codings.trim().toLowerCase() !== 'chunked') return UNSUPPORTED_TRANSFER_CODING;
  if (headers.host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) return MISSING_HOST;
  return null;
}
