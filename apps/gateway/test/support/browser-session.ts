/**
 * What a browser does over plain HTTP, for specs that walk a login by hand: one cookie jar per
 * origin (names only; path and expiry are not needed by these flows) and requests without
 * automatic redirects, so every hop can be inspected.
 */
export class BrowserSession {
  private readonly jars = new Map<string, Map<string, string>>();

  /** `extraCookie`: a raw `name=value` sent besides the jar's (a hostile client's). */
  async get(url: string, init: { accept?: string; extraCookie?: string } = {}): Promise<Response> {
    return this.send(url, { method: 'GET', headers: { accept: init.accept ?? 'text/html,application/xhtml+xml' } }, init.extraCookie);
  }

  async postForm(url: string, form: Record<string, string>): Promise<Response> {
    return this.send(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: new URLSearchParams(form).toString() });
  }

  cookie(origin: string, name: string): string | undefined {
    return this.jars.get(origin)?.get(name);
  }

  setCookie(origin: string, name: string, value: string): void {
    this.jarOf(origin).set(name, value);
  }

  private async send(url: string, init: RequestInit, extraCookie?: string): Promise<Response> {
    const origin = new URL(url).origin;
    const jar = this.jarOf(origin);
    const cookies = [...[...jar].map(([n, v]) => `${n}=${v}`), ...(extraCookie ? [extraCookie] : [])];
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), ...(cookies.length > 0 && { cookie: cookies.join('; ') }) },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a))) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }

  private jarOf(origin: string): Map<string, string> {
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }
}

/** The absolute target of a redirect answer. */
export function locationOf(res: Response, base: string): string {
  const location = res.headers.get('location');
  if (location === null) throw new Error(`expected a redirect, got ${res.status}`);
  return new URL(location, base).href;
}
