import { Controller, Get, Inject, Options, Post, Req, Res } from '@nestjs/common';
import { OAuthError } from '@idm/tokens';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { GATEWAY_LOGGER } from '../config-sync/config-sync.tokens';
import { issuerUrl } from './issuer-url';
import { applyCors } from './token-cors';
import { replyWith } from './oauth-reply';
import { TokenEndpoints, type TokenCall, type TokenFormat } from './token-endpoints';

export const AUTH_TOKEN_ENDPOINTS = Symbol('AuthTokenEndpoints');

type TokenControllerClass = new (endpoints: TokenEndpoints, log: Logger) => object;

/**
 * HTTP surface of one token service prefix (`/credential`: clients are credentials; `/auth`:
 * clients are proxies' token-service settings). Decoding the wire format (form body, or the
 * query string for GET where a client allows it) happens here; decisions are TokenEndpoints'.
 */
function tokenController(prefix: 'credential' | 'auth', endpointsToken: symbol | typeof TokenEndpoints): TokenControllerClass {
  const issuerPath = `/${prefix}`;

  @Controller(prefix)
  class TokenController {
    constructor(
      @Inject(endpointsToken) readonly endpoints: TokenEndpoints,
      @Inject(GATEWAY_LOGGER) readonly log: Logger,
    ) {}

    /** CORS preflight: 204, with the allow headers only when the Origin is allowed. */
    @Options(['token', 'jwt', 'jwt/regenerate', 'introspect', 'revoke', '.well-known/oauth-authorization-server', '.well-known/jwks.json'])
    preflight(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      applyCors(this.endpoints.cors(), req, reply, true);
      return reply.code(204).send();
    }

    @Post('token')
    postToken(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      return this.issue(req, reply, 'opaque', false);
    }

    @Get('token')
    getToken(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      return this.issue(req, reply, 'opaque', true);
    }

    @Post('jwt')
    postJwt(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      return this.issue(req, reply, 'jwt', false);
    }

    @Get('jwt')
    getJwt(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      return this.issue(req, reply, 'jwt', true);
    }

    @Post('jwt/regenerate')
    regenerate(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      applyCors(this.endpoints.cors(), req, reply, false);
      return replyWith(reply, this.log, () => this.endpoints.regenerate(this.call(req, false)));
    }

    @Post('introspect')
    introspect(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      applyCors(this.endpoints.cors(), req, reply, false);
      return replyWith(reply, this.log, () => this.endpoints.introspect(this.call(req, false)));
    }

    @Post('revoke')
    revoke(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      applyCors(this.endpoints.cors(), req, reply, false);
      return replyWith(reply, this.log, async () => {
        await this.endpoints.revoke(this.call(req, false));
        return {};
      });
    }

    @Get('.well-known/oauth-authorization-server')
    metadata(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      applyCors(this.endpoints.cors(), req, reply, false);
      return replyWith(reply, this.log, async () => this.endpoints.metadata(issuerUrl(req.raw, issuerPath)));
    }

    @Get('.well-known/jwks.json')
    jwks(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
      applyCors(this.endpoints.cors(), req, reply, false);
      // Public keys only; caches may keep them briefly, rotation pre-publishes keys well ahead.
      return reply.header('cache-control', 'public, max-age=300').type('application/json').send(this.endpoints.jwks());
    }

    issue(req: FastifyRequest, reply: FastifyReply, format: TokenFormat, fromUrl: boolean) {
      applyCors(this.endpoints.cors(), req, reply, false);
      return replyWith(reply, this.log, () => this.endpoints.token(this.call(req, fromUrl), format));
    }

    call(req: FastifyRequest, fromUrl: boolean): TokenCall {
      return { issuer: issuerUrl(req.raw, issuerPath), authorization: req.headers.authorization, params: parameters(req, fromUrl), fromUrl, headers: req.headers, peer: req.raw.socket.remoteAddress };
    }
  }
  Object.defineProperty(TokenController, 'name', { value: `${prefix === 'auth' ? 'Auth' : 'Credential'}TokenController` });
  return TokenController;
}

export const CredentialTokenController = tokenController('credential', TokenEndpoints);
export const AuthTokenController = tokenController('auth', AUTH_TOKEN_ENDPOINTS);

/** RFC 8414 §3.1: the well-known segment goes between host and the issuer's path. */
@Controller('.well-known/oauth-authorization-server')
export class TokenMetadataAtRootController {
  constructor(
    @Inject(TokenEndpoints) private readonly credential: TokenEndpoints,
    @Inject(AUTH_TOKEN_ENDPOINTS) private readonly auth: TokenEndpoints,
    @Inject(GATEWAY_LOGGER) private readonly log: Logger,
  ) {}

  @Get('credential')
  credentialMetadata(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    return replyWith(reply, this.log, async () => this.credential.metadata(issuerUrl(req.raw, '/credential')));
  }

  @Get('auth')
  authMetadata(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    return replyWith(reply, this.log, async () => this.auth.metadata(issuerUrl(req.raw, '/auth')));
  }
}

/**
 * Request parameters, each at most once (RFC 6749 §3.2). Nest's Fastify adapter already decodes
 * form bodies (fast-querystring: a repeated name becomes an array); GET reads the raw query.
 */
function parameters(req: FastifyRequest, fromUrl: boolean): URLSearchParams {
  const params = new URLSearchParams();
  if (fromUrl) {
    const q = req.raw.url?.indexOf('?') ?? -1;
    for (const [name, value] of new URLSearchParams(q < 0 ? '' : req.raw.url!.slice(q + 1))) {
      if (params.has(name)) throw new OAuthError('invalid_request', `parameter ${name} is repeated`);
      params.set(name, value);
    }
    return params;
  }
  const body = req.body;
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '') || typeof body !== 'object' || body === null) {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  for (const [name, value] of Object.entries(body)) {
    if (Array.isArray(value)) throw new OAuthError('invalid_request', `parameter ${name} is repeated`);
    params.set(name, String(value));
  }
  return params;
}
