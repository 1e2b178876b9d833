import type { UpstreamPolicy } from '@idm/domain';
import { Agent, request, type buildConnector } from 'undici';
import { guardedConnector } from '../proxy/upstream-connector';

/** Limits on every call to a key manager's endpoints: a slow or hostile issuer must not hold the Gateway. */
export interface IssuerHttpLimits {
  timeoutMs: number;
  /** Bodies beyond this are refused (JWKS, discovery and introspection answers are small). */
  maxBytes: number;
  /** Same-origin redirects followed (default 3); 0: none (a client's own `jwksUri` is taken as registered). */
  maxRedirects?: number;
}

export const DEFAULT_ISSUER_HTTP_LIMITS: IssuerHttpLimits = { timeoutMs: 5_000, maxBytes: 256 * 1024 };
const MAX_REDIRECTS = 3;

export class IssuerHttpError extends Error {}

/** TLS towards one key manager: its CA bundle (instead of the system store) and client certificate. */
export interface IssuerTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * HTTP client of one key manager (undici, its own Agent for its TLS settings). Redirects are
 * followed only to the same origin, a few times: a JWKS URI that sends the Gateway elsewhere is
 * refused, so a compromised or misconfigured issuer cannot point key fetches at another host.
 * Every connection (discovery, JWKS, introspection) passes the same outbound address policy as
 * proxy upstreams (UPSTREAM_ALLOW / UPSTREAM_DENY / UPSTREAM_ALLOW_INTERNAL), checked on the
 * address about to be connected to: a key manager URL is no way around it (SSRF), then or after
 * its name resolves elsewhere.
 */
export class IssuerHttp {
  private readonly agent: Agent;

  constructor(
    tls: IssuerTls,
    private readonly limits: IssuerHttpLimits,
    policy: UpstreamPolicy,
  ) {
    const options = { ca: tls.ca, cert: tls.cert, key: tls.key, timeout: limits.timeoutMs };
    // The guarded connector is built per origin (it checks that origin's port); a key manager talks to one or two.
    const connectors = new Map<string, buildConnector.connector>();
    const connect: buildConnector.connector = (opts, callback) => {
      const origin = new URL(`${opts.protocol}//${opts.hostname.includes(':') ? `[${opts.hostname}]` : opts.hostname}${opts.port ? `:${opts.port}` : ''}`);
      let connector = connectors.get(origin.origin);
      if (connector === undefined) connectors.set(origin.origin, (connector = guardedConnector(policy, origin, options)));
      return connector(opts, callback);
    };
    this.agent = new Agent({ connect, headersTimeout: limits.timeoutMs, bodyTimeout: limits.timeoutMs });
  }

  /** GET or POST returning parsed JSON and the response's Cache-Control; throws IssuerHttpError on anything else. */
  async json(url: string, init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {}): Promise<{ body: unknown; cacheControl: string | undefined }> {
    const origin = new URL(url).origin;
    let target = url;
    const maxRedirects = this.limits.maxRedirects ?? MAX_REDIRECTS;
    for (let hop = 0; hop <= maxRedirects; hop++) {
      const res = await request(target, {
        method: init.method ?? 'GET',
        headers: { accept: 'application/json', ...init.headers },
        body: init.body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.limits.timeoutMs),
      }).catch((err: Error) => {
        throw new IssuerHttpError(`${init.method ?? 'GET'} ${target}: ${err.message}`);
      });
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof res.headers.location === 'string') {
        await res.body.dump();
        if (maxRedirects === 0) throw new IssuerHttpError(`${target} answered a redirect; redirects are not followed`);
        const next = new URL(res.headers.location, target);
        if (next.origin !== origin) throw new IssuerHttpError(`${target} redirects to another origin (${next.origin}); refused`);
        target = next.href;
        continue;
      }
      const text = await this.readBounded(res.body, target);
      if (res.statusCode !== 200) throw new IssuerHttpError(`${target} answered ${res.statusCode}`);
      try {
        const cacheControl = res.headers['cache-control'];
        return { body: JSON.parse(text) as unknown, cacheControl: Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl };
      } catch {
        throw new IssuerHttpError(`${target} answered with something that is not JSON`);
      }
    }
    throw new IssuerHttpError(`${url}: too many redirects`);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async readBounded(body: AsyncIterable<Buffer> & { destroy(err?: Error): void }, target: string): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += chunk.length;
      if (size > this.limits.maxBytes) {
        body.destroy();
        throw new IssuerHttpError(`${target} answered with more than ${this.limits.maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

/** `max-age` of a Cache-Control value, in seconds; undefined when absent or malformed. */
export function maxAgeSeconds(cacheControl: string | undefined): number | undefined {
  const match = cacheControl === undefined ? null : /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?\s*(?:,|$)/i.exec(cacheControl);
  return match ? Number(match[1]) : undefined;
}
