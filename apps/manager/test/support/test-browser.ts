/** A browser over plain HTTP: one cookie jar per origin, redirects not followed (each hop is inspected). */
export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  get(url: string): Promise<Response> {
    return this.send(url, { method: 'GET' });
  }

  /** `headers`: extra request headers (e.g. an X-Forwarded-For a trusted hop would add). */
  postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.send(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  }

  /** A same-origin fetch() POST as a page's script sends it (Sec-Fetch-Site: same-origin), without a body. */
  post(url: string, headers: Record<string, string> = { 'sec-fetch-site': 'same-origin' }): Promise<Response> {
    return this.send(url, { method: 'POST', headers });
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    const origin = new URL(url).origin;
    const jar = this.jars.get(origin) ?? new Map<string, string>();
    this.jars.set(origin, jar);
    const cookie = [...jar].map(([n, v]) => `${n}=${v}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), ...(cookie && { cookie }) } });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, value] = [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1).trim()];
      if (value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a))) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }
}

/** The absolute URL a redirect answer points to (throws when the answer is not a redirect). */
export const locationOf = (res: Response, base: string): string => {
  const location = res.headers.get('location');
  if (location === null) throw new Error(`expected a redirect, got ${res.status}`);
  return new URL(location, base).href;
};

/** The reason code an error page carries (`data-code`). */
export const errorCodeOf = (html: string): string | undefined => /data-code="([^"]+)"/.exec(html)?.[1];

/**
 * Opens the OpenID Provider's login page at an authorization URL (200 expected) and returns its
 * form, ready to post a username and password with the page's transaction and CSRF fields.
 */
export async function openLoginPage(browser: Browser, authorizationUrl: string): Promise<(username: string, password: string) => Promise<Response>> {
  const page = await browser.get(authorizationUrl);
  if (page.status !== 200) throw new Error(`expected the login page, got ${page.status}`);
  const html = await page.text();
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (action === undefined) throw new Error('the page has no login form');
  return (username, password) => browser.postForm(action, { transaction: field('transaction'), csrf: field('csrf'), username, password });
}
