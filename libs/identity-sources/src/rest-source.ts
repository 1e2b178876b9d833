import type { RestSourceConfig } from '@idm/domain';
import { Agent, request } from 'undici';
import { acceptableCredentials, SourceUnavailableError, withinTimeout, type IdentityChecker, type SourceAnswer } from './identity-check';

/** A password check answers a few hundred bytes; anything far larger is a misbehaving endpoint, not a user record. */
export const MAX_REST_ANSWER_BYTES = 64 * 1024;

/**
 * Checks a password by calling an HTTP endpoint (seed `AuthenticationApi`) with undici, through
 * an Agent of its own (the source's CA bundle, a small keep-alive pool). The username and password
 * travel as fields of a JSON or form body built by the encoder, never spliced into text, so no
 * value can change the request's shape. Fail closed everywhere: a redirect is not followed, a
 * status neither accepted nor rejecting, an answer over {@link MAX_REST_ANSWER_BYTES}, or a
 * success status whose JSON does not meet the success condition never lets anyone in.
 */
export class RestSource implements IdentityChecker {
  private readonly agent: Agent;

  constructor(
    private readonly config: RestSourceConfig,
    private readonly secret: string | null,
    private readonly timeoutMs: number,
  ) {
    this.agent = new Agent({
      connect: { ...(config.caPem ? { ca: config.caPem } : {}), timeout: timeoutMs, rejectUnauthorized: true },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connections: 8,
    });
  }

  async check(username: string, password: string): Promise<SourceAnswer> {
    if (!acceptableCredentials(username, password)) return { outcome: 'rejected' };
    if (this.config.secretHeader && this.secret === null) throw new SourceUnavailableError('source_misconfigured', 'the REST source has no secret for its secret header');
    const abort = new AbortController();
    try {
      return await withinTimeout(`${this.config.method} ${this.config.url}`, this.timeoutMs, this.call(username, password, abort.signal));
    } catch (err) {
      throw err instanceof SourceUnavailableError ? err : new SourceUnavailableError('source_unavailable', `REST ${this.config.url}: ${describe(err)}`);
    } finally {
      abort.abort(); // a timed-out request must not keep its connection busy
    }
  }

  close(): Promise<void> {
    return this.agent.close().catch(() => undefined);
  }

  private async call(username: string, password: string, signal: AbortSignal): Promise<SourceAnswer> {
    const c = this.config;
    const fields = { ...c.extraFields, [c.usernameField]: username, [c.passwordField]: password };
    const headers: Record<string, string> = { ...c.headers, accept: 'application/json' };
    if (c.secretHeader && this.secret !== null) headers[c.secretHeader.name.toLowerCase()] = `${c.secretHeader.prefix}${this.secret}`;
    headers['content-type'] = c.encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
    const body = c.encoding === 'json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString();
    // undici's request() never follows redirects (no redirect interceptor here): a 3xx is just an unexpected status.
    const res = await request(c.url, { method: c.method, headers, body, dispatcher: this.agent, signal });
    if (c.rejectStatuses.includes(res.statusCode)) {
      await res.body.dump().catch(() => undefined);
      return { outcome: 'rejected' };
    }
    if (!c.successStatuses.includes(res.statusCode)) {
      await res.body.dump().catch(() => undefined);
      throw new SourceUnavailableError('source_unavailable', `REST ${c.url} answered ${res.statusCode}`);
    }
    const answer = await readJson(res.body, c.url, c.success !== undefined || Object.keys(c.attributes).length > 0);
    if (c.success && !sameValue(at(answer, c.success.pointer), c.success.equals)) return { outcome: 'rejected' };
    return {
      outcome: 'verified',
      identity: { username, email: textAt(answer, c.attributes.email), displayName: textAt(answer, c.attributes.displayName), groups: groupsAt(answer, c.attributes.groups) },
    };
  }
}

/** The answer as JSON, read up to the size limit; `required`: the config reads it, so garbage fails closed. */
async function readJson(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, url: string, required: boolean): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_REST_ANSWER_BYTES) {
      body.destroy();
      throw new SourceUnavailableError('source_unavailable', `REST ${url} answered with more than ${MAX_REST_ANSWER_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!required) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SourceUnavailableError('source_unavailable', `REST ${url} answered with something that is not JSON`);
  }
}

/** RFC 6901: `/a/b~1c` is a -> "b/c"; array indexes are decimal. */
export function at(value: unknown, pointer: string | undefined): unknown {
  if (pointer === undefined) return undefined;
  let current = value;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current) && /^(0|[1-9]\d*)$/.test(key)) current = current[Number(key)];
    else if (current !== null && typeof current === 'object' && Object.prototype.hasOwnProperty.call(current, key)) current = (current as Record<string, unknown>)[key];
    else return undefined;
  }
  return current;
}

function sameValue(found: unknown, wanted: string | number | boolean): boolean {
  return typeof found === typeof wanted && found === wanted;
}

function textAt(answer: unknown, pointer: string | undefined): string | null {
  const v = at(answer, pointer);
  return typeof v === 'string' || typeof v === 'number' ? String(v) : null;
}

function groupsAt(answer: unknown, pointer: string | undefined): string[] {
  const v = at(answer, pointer);
  if (Array.isArray(v)) return v.filter((g) => typeof g === 'string' || typeof g === 'number').map(String);
  if (typeof v === 'string')
    return v
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
  return [];
}

function describe(err: unknown): string {
  // undici's messages name the failing step (connect ECONNREFUSED, certificate), never the body sent.
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
