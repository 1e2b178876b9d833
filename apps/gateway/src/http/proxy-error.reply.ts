import type { RejectionCode } from '@idm/policies';
import type { ServerResponse } from 'node:http';
import type { GatewayErrorCode } from './gateway-errors';

/**
 * Every error the proxy answers itself has this one shape, with the id to quote in a report.
 * Also used by the token handler for paths and methods it does not serve.
 */
export function writeProxyError(
  res: ServerResponse,
  requestId: string,
  status: number,
  code: GatewayErrorCode | RejectionCode,
  message: string,
  headers?: Readonly<Record<string, string | readonly string[]>>,
): void {
  if (res.headersSent) {
    // Too late for a status: the only honest signal left is a broken response.
    res.destroy();
    return;
  }
  const body = JSON.stringify({ code, message, requestId });
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
  });
  res.end(body);
}
