import type { GatewayErrorCode } from '../http/gateway-errors';
import { RequestBodyTooLargeError } from './request-body-limit';

export interface UpstreamFailure {
  status: number;
  code: Extract<GatewayErrorCode, `upstream_${string}` | 'payload_too_large'>;
  message: string;
}

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** Maps an undici/socket failure to what the client is told, by stable error codes only. */
export function classifyUpstreamFailure(err: unknown): UpstreamFailure {
  if (err instanceof RequestBodyTooLargeError) return { status: 413, code: 'payload_too_large', message: err.message };
  const code = errorCode(err);
  // The message does not name the address: that is for the operator's log, not the client.
  if (code === 'IDM_UPSTREAM_FORBIDDEN') return { status: 502, code: 'upstream_forbidden', message: "The upstream is not allowed by the Gateway's upstream policy" };
  if (code && TIMEOUTS.has(code)) return { status: 504, code: 'upstream_timeout', message: 'The upstream did not answer in time' };
  if (code && UNREACHABLE.has(code)) return { status: 502, code: 'upstream_unreachable', message: 'The upstream could not be reached' };
  return { status: 502, code: 'upstream_error', message: 'The upstream request failed' };
}

export function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return undefined;
}
