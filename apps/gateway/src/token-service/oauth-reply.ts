import { OAuthError, TokenStoreUnavailable } from '@idm/tokens';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';

/**
 * The one place token endpoint answers are written: RFC 6749 §5.1 no-store headers on every
 * answer, OAuthError as `{error, error_description}` with its status (invalid_client adds a
 * Basic challenge, §5.2), a token store outage as 503, and anything unexpected as a bare 500
 * that is logged but never described to the client.
 */
export async function replyWith(reply: FastifyReply, log: Logger, work: () => Promise<unknown>): Promise<void> {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  let error: OAuthError;
  try {
    const body = await work();
    await reply.code(200).type('application/json').send(body ?? {});
    return;
  } catch (err) {
    if (err instanceof OAuthError) error = err;
    else if (err instanceof TokenStoreUnavailable) error = new OAuthError('server_error', 'the token store is unavailable, try again later', 503);
    else {
      log.error({ err }, 'token endpoint failed');
      error = new OAuthError('server_error', 'the request could not be processed', 500);
    }
  }
  if (error.code === 'invalid_client') reply.header('www-authenticate', 'Basic realm="token", charset="UTF-8"');
  await reply.code(error.status).type('application/json').send(error.toJSON());
}
