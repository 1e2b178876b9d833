/**
 * Redis could not answer a token store call. Kept distinct from "token not found" so an outage
 * is never mistaken for an invalid token (the token endpoint answers 503 server_error, a proxy
 * answers 503, never 401). The Redis error stays in `cause` for logs; the message carries no token.
 */
export class TokenStoreUnavailable extends Error {
  constructor(cause: unknown) {
    super('token store unavailable', { cause });
    this.name = 'TokenStoreUnavailable';
  }
}
