// A browser's login over plain HTTP, for the OIDC benches' set-up (not for load): a cookie jar per
// origin and a walk that follows redirects and submits the pages' forms (our Gateway's login page,
// oidc-provider's development login and consent pages) until it reaches the URL the caller waits
// for. The same walk for every OP, so no side gets a shortcut the other does not.
import { URLSearchParams } from 'node:url';

export class CookieJar {
  jars = new Map();

  /** The `cookie` header a browser would send to `url`'s origin (paths are not needed by these flows). */
  header(url) {
    const jar = this.jars.get(new URL(url).origin);
    return jar && jar.size > 0 ? [...jar].map(([n, v]) => `${n}=${v}`).join('; ') : undefined;
  }

  get(url, name) {
    return this.jars.get(new URL(url).origin)?.get(name);
  }

  /** Keeps the `set-cookie` lines of a response from `url` (a cleared or expired cookie is dropped). */
  take(url, setCookies) {
    const origin = new URL(url).origin;
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()));
      if (value === '' || expired) jar.delete(name);
      else jar.set(name, value);
    }
  }

  async send(url, init = {}) {
    const cookie = this.header(url);
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { accept: 'text/html', ...init.headers, ...(cookie && { cookie }) } });
    this.take(url, res.headers.getSetCookie());
    return res;
  }
}

const attribute = (tag, name) => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1];
const unescapeHtml = (s) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The first form of a page: its action and fields (hidden values as given, login/username and password filled in). */
function formOf(html, pageUrl, { username, password }) {
  const form = /<form[^>]*>/.exec(html);
  if (!form) throw new Error(`no form on ${pageUrl}: ${html.slice(0, 300)}`);
  const fields = {};
  for (const [input] of html.matchAll(/<input[^>]*>/g)) {
    const name = attribute(input, 'name');
    if (!name) continue;
    if (name === 'login' || name === 'username') fields[name] = username;
    else if (name === 'password') fields[name] = password;
    else fields[name] = unescapeHtml(attribute(input, 'value') ?? '');
  }
  // The consent page's "Allow" (our Gateway) is a named button.
  const allow = /<button[^>]*name="decision"[^>]*value="allow"/.exec(html);
  if (allow) fields.decision = 'allow';
  return { action: new URL(unescapeHtml(attribute(form[0], 'action') ?? pageUrl), pageUrl).href, fields };
}

/**
 * From `startUrl`, does what a browser with a user typing `username`/`password` would do, and
 * stops before requesting the first URL `until(url)` accepts, which it returns.
 */
export async function walkLogin(jar, startUrl, { username, password, until, maxHops = 15 }) {
  let url = startUrl;
  for (let hop = 0; hop < maxHops; hop++) {
    if (until(url)) return url;
    const res = await jar.send(url);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url).href;
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${html.slice(0, 300)}`);
    const { action, fields } = formOf(html, url, { username, password });
    const submitted = await jar.send(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    if (submitted.status < 300 || submitted.status >= 400) throw new Error(`${action}: HTTP ${submitted.status} ${(await submitted.text()).slice(0, 300)}`);
    url = new URL(submitted.headers.get('location'), action).href;
  }
  throw new Error(`login from ${startUrl} did not finish within ${maxHops} hops (at ${url})`);
}
