import {
  CLIENT_REGISTRATION,
  CLIENT_REGISTRATION_PROJECTS_KEY,
  clientRegistrationReplySchema,
  type ClientRegistrationReply,
  type ClientRegistrationRequest,
} from '@idm/config-bus';
import type { ClientProxy } from '@nestjs/microservices';
import type Redis from 'ioredis';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { firstValueFrom, timeout } from 'rxjs';
import type { Logger } from 'pino';
import type { TokenClients } from '../serving/token-clients';
import type { RegistrationRateLimit } from './registration-rate-limit';

/** Client metadata is a few URIs and names (a JWKS at most); anything near this size is not metadata. */
export const REGISTRATION_BODY_LIMIT = 64 * 1024;
const JSON_TYPE = /^application\/json\b/i;
/** How long discovery trusts its view of whether any project accepts registrations. */
const OFFERED_TTL_MS = 2_000;

export interface ClientRegistrationOptions {
  /** How long the Manager may take to answer. */
  timeoutMs: number;
  /** How long a registered, replaced or deleted client may take to reach (or leave) this Gateway's configuration before the answer goes out anyway. */
  publicationWaitMs: number;
  pollMs?: number;
  /** Requests per client address and per initial access token; absent: not limited here. */
  rateLimit?: { limit: RegistrationRateLimit; addressOf: (peer: string, headers: IncomingMessage['headers']) => string };
}

class RegistrationHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    description: string,
    /** Members beside `error` and `error_description` (the rate limit's `limit`), and headers (its Retry-After). */
    readonly extra: { body?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(description);
  }
}

/**
 * Dynamic client registration (RFC 7591 `POST /register`) and its management protocol (RFC 7592
 * `GET`/`PUT`/`DELETE /register/<client_id>`) under `/credential`. This Gateway only reads the
 * HTTP request — bearer token, a bounded JSON body — and relays the Manager's decision (asked
 * over the bus): the Gateway never writes the database, and the client it creates is an ordinary
 * OIDC client of the project that reaches every Gateway by the ordinary publication. Before a
 * success goes out, the answer waits (briefly) for the change to reach this Gateway, so the client
 * can use the endpoint that answered it at once.
 */
export class ClientRegistrationEndpoint {
  private offeredAt = 0;
  private offeredValue = false;
  private refreshing = false;

  constructor(
    private readonly bus: ClientProxy,
    private readonly redis: Redis,
    private readonly clients: () => TokenClients | null,
    private readonly environment: string,
    private readonly log: Logger,
    private readonly options: ClientRegistrationOptions,
  ) {
    this.refreshOffered();
  }

  /** Whether discovery names a `registration_endpoint`: some project accepts registrations (read from Redis, at most a couple of seconds old). */
  offered(): boolean {
    if (Date.now() - this.offeredAt > OFFERED_TTL_MS) this.refreshOffered();
    return this.offeredValue;
  }

  private refreshOffered(): void {
    if (this.refreshing) return;
    this.refreshing = true;
    this.redis
      .scard(CLIENT_REGISTRATION_PROJECTS_KEY)
      .then((n) => {
        this.offeredValue = n > 0;
        this.offeredAt = Date.now();
      })
      // Redis unreachable: the last known answer stands (the endpoint itself answers by the Manager's decision).
      .catch(() => undefined)
      .finally(() => (this.refreshing = false));
  }

  /** `subPath` is what follows `/register`: empty (POST, register) or `/<client_id>` (GET, PUT, DELETE). */
  async handle(req: IncomingMessage, res: ServerResponse, issuer: string, subPath: string): Promise<void> {
    try {
      const operation = operationOf(req.method ?? 'GET', subPath);
      const token = bearerOf(req.headers.authorization);
      // Before the body is read or the Manager asked: a flood spends neither.
      await this.admit(req, operation === 'register' ? token : null);
      const metadata = operation === 'register' || operation === 'replace' ? await jsonObjectOf(req) : null;
      const request: ClientRegistrationRequest = {
        environment: this.environment,
        operation,
        endpoint: `${issuer}/register`,
        token,
        clientId: subPath === '' ? null : decodeURIComponent(subPath.slice(1)),
        metadata,
      };
      const reply = await this.ask(request);
      if (reply.published && reply.status < 300) await this.published(reply.published.clientId, reply.published.redirectUris);
      write(res, reply.status, reply.body);
    } catch (err) {
      if (!(err instanceof RegistrationHttpError)) throw err;
      write(res, err.status, { error: err.code, error_description: err.message, ...err.extra.body }, err.extra.headers);
    }
  }

  /** Counts the request against its address (and a registration against its initial access token); 429 with Retry-After once one is used up. */
  private async admit(req: IncomingMessage, initialAccessToken: string | null): Promise<void> {
    const limits = this.options.rateLimit;
    if (!limits) return;
    const address = limits.addressOf(req.socket.remoteAddress ?? '', req.headers) || 'unknown';
    let verdict: Awaited<ReturnType<RegistrationRateLimit['check']>>;
    try {
      verdict = await limits.limit.check(address, initialAccessToken);
    } catch (err) {
      // Nothing registers uncounted: the store's outage is ours, answered as such.
      this.log.warn({ err: { message: (err as Error).message } }, 'the client registration rate limit could not be checked');
      throw new RegistrationHttpError(503, 'temporarily_unavailable', 'client registration is unavailable right now; try again');
    }
    if (verdict.allowed) return;
    const what = verdict.scope === 'address' ? 'from this address' : 'with this initial access token';
    throw new RegistrationHttpError(429, 'rate_limited', `too many client registration requests ${what}; try again in ${verdict.retryAfterSeconds} seconds`, {
      body: { limit: verdict.scope },
      headers: { 'retry-after': String(verdict.retryAfterSeconds) },
    });
  }

  private async ask(request: ClientRegistrationRequest): Promise<ClientRegistrationReply> {
    let reply: unknown;
    try {
      reply = await firstValueFrom(this.bus.send<unknown, ClientRegistrationRequest>(CLIENT_REGISTRATION, request).pipe(timeout(this.options.timeoutMs)));
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'the Manager did not answer a client registration request');
      throw new RegistrationHttpError(503, 'temporarily_unavailable', 'client registration is unavailable right now; try again');
    }
    const parsed = clientRegistrationReplySchema.safeParse(reply);
    if (!parsed.success) throw new RegistrationHttpError(503, 'temporarily_unavailable', 'client registration is unavailable right now; try again');
    return parsed.data;
  }

  /** Until this Gateway serves the client with these redirect URIs (null: no longer serves it), or the wait is over. */
  private async published(clientId: string, redirectUris: readonly string[] | null): Promise<void> {
    const wanted = redirectUris === null ? null : JSON.stringify(redirectUris);
    const deadline = Date.now() + this.options.publicationWaitMs;
    for (;;) {
      const oidc = this.clients()?.findById(clientId)?.settings?.oidc ?? undefined;
      if (wanted === null ? oidc === undefined : oidc !== undefined && JSON.stringify(oidc.redirectUris) === wanted) return;
      if (Date.now() >= deadline) {
        this.log.warn({ clientId }, 'a registered client change has not reached this Gateway yet; answering anyway');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 25));
    }
  }
}

function operationOf(method: string, subPath: string): ClientRegistrationRequest['operation'] {
  if (subPath === '') return 'register';
  if (method === 'GET') return 'read';
  return method === 'PUT' ? 'replace' : 'delete';
}

/** RFC 6750 §2.1 only (no token in a query or form: the body is the client's metadata). */
function bearerOf(authorization: string | undefined): string | null {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization ?? '');
  return match ? match[1] : null;
}

/** The JSON object of the body (RFC 7591 §3.1), bounded; anything else is refused before the Manager is asked. */
function jsonObjectOf(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) return Promise.reject(new RegistrationHttpError(400, 'invalid_request', 'the body must be application/json'));
  const tooLarge = () => new RegistrationHttpError(413, 'invalid_request', `the client metadata exceeds ${REGISTRATION_BODY_LIMIT} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > REGISTRATION_BODY_LIMIT) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= REGISTRATION_BODY_LIMIT) chunks.push(chunk);
      else {
        req.off('data', onData);
        reject(tooLarge());
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      let value: unknown;
      try {
        value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reject(new RegistrationHttpError(400, 'invalid_client_metadata', 'the body is not JSON'));
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return reject(new RegistrationHttpError(400, 'invalid_client_metadata', 'the client metadata must be a JSON object'));
      resolve(value as Record<string, unknown>);
    });
    req.once('error', () => reject(new RegistrationHttpError(400, 'invalid_request', 'the request body could not be read')));
  });
}

/** RFC 7591 §3.2: JSON, never cached; a 401 says how to authenticate (RFC 6750 §3). */
function write(res: ServerResponse, status: number, body: Record<string, unknown> | null, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  const headers: Record<string, string> = { 'cache-control': 'no-store', pragma: 'no-cache', ...extraHeaders };
  // Only codes of ours reach this header (the Manager's reply is schema-checked, its error a fixed word).
  if (status === 401) headers['www-authenticate'] = `Bearer error="${typeof body?.error === 'string' && /^[a-z_]+$/.test(body.error) ? body.error : 'invalid_token'}"`;
  if (body === null) {
    res.writeHead(status, headers);
    return void res.end();
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}
