import { OAuthError, TokenStoreUnavailable } from '@idm/tokens';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';

export type AnswerHeaders = Record<string, string>;

/**
 * The one place token endpoint answers are written: RFC 6749 §5.1 no-store headers on every
 * answer, OAuthError as `{error, error_description}` with its status (invalid_client adds a
 * Basic challenge, §5.2), a token store outage as 503, and anything unexpected as a bare 500
 * that is logged but never described to the client. `headers` already holds the CORS answer.
 * Returns the status and OAuth error code written (for the auth record).
 */
export async function replyWith(
  res: ServerResponse,
  headers: AnswerHeaders,
  log: Logger,
  work: () => Promise<unknown>,
  /** 201 for what creates a resource (a pushed authorization request, RFC 9126 §2.2). */
  successStatus = 200,
): Promise<{ status: number; error: string | null }> {
  headers['cache-control'] = 'no-store';
  headers.pragma = 'no-cache';
  let error: OAuthError;
  try {
    const body = await work();
    writeJson(res, successStatus, headers, body ?? {});
    return { status: successStatus, error: null };
  } catch (err) {
    error = asOAuthError(err, log);
  }
  if (error.code === 'invalid_client') headers['www-authenticate'] = 'Basic realm="token", charset="UTF-8"';
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  if (error.headers !== undefined) Object.assign(headers, error.headers);
  writeJson(res, error.status, headers, error.toJSON());
  return { status: error.status, error: error.code };
}

export function asOAuthError(err: unknown, log: Logger): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof TokenStoreUnavailable) return new OAuthError('server_error', 'the token store is unavailable, try again later', 503);
  log.error({ err }, 'token endpoint failed');
  return new OAuthError('server_error', 'the request could not be processed', 500);
}

export function writeJson(res: ServerResponse, status: number, headers: AnswerHeaders, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  headers['content-type'] = 'application/json; charset=utf-8';
  headers['content-length'] = String(Buffer.byteLength(text));
  res.writeHead(status, headers);
  res.end(text);
}
