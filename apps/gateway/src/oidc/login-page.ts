import type { ServerResponse } from 'node:http';

/**
 * The server-rendered pages of the OpenID Provider: the login form, and the error page shown
 * when a request cannot be sent back to the client (unknown client, unregistered redirect URI:
 * redirecting there would make the Gateway an open redirector). Every value is HTML-escaped;
 * the headers forbid framing (clickjacking), scripts and caching.
 */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}button{margin-top:1rem;padding:.6rem 1.2rem}.error{color:#a30000}</style></head>
<body>${body}</body></html>`;
}

/**
 * The CSP of a page whose form ends in a redirect to the client: browsers hold the redirect
 * after a form submission to `form-action` too, so the redirect URI's origin (or private-use
 * scheme) is allowed besides 'self'.
 */
export function formActionFor(redirectUri: string): Record<string, string> {
  const url = new URL(redirectUri);
  const target = url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : url.protocol;
  return { 'content-security-policy': PAGE_HEADERS['content-security-policy'].replace("form-action 'self'", `form-action 'self' ${target}`) };
}

export interface LoginForm {
  action: string;
  transaction: string;
  csrf: string;
  username: string;
  error: string | null;
  /** External IdPs (`oidc` identity sources) the client lists: one "Sign in with" button each, posting to `externalAction`. */
  externalIdps?: readonly string[];
  externalAction?: string;
  /** The self-service pages of this login (`self-service-pages.ts`): "Forgot password?" always, "Create account" when the project allows it. */
  selfService?: { forgot: string; register: string | null };
}

/** The CSP's form-action also allows the external IdPs' origins: the "Sign in with" forms end in a redirect there. */
export function withFormActions(headers: Record<string, string>, origins: readonly string[]): Record<string, string> {
  if (origins.length === 0) return headers;
  const csp = headers['content-security-policy'] ?? PAGE_HEADERS['content-security-policy'];
  return { ...headers, 'content-security-policy': csp.replace("form-action 'self'", `form-action 'self' ${[...new Set(origins)].join(' ')}`) };
}

export function writeLoginPage(res: ServerResponse, status: number, form: LoginForm, extraHeaders: Record<string, string | string[]> = {}): void {
  const html = page(
    'Sign in',
    `<h1>Sign in</h1>${form.error ? `<p class="error" role="alert">${escapeHtml(form.error)}</p>` : ''}
<form method="post" action="${escapeHtml(form.action)}">
<input type="hidden" name="transaction" value="${escapeHtml(form.transaction)}"><input type="hidden" name="csrf" value="${escapeHtml(form.csrf)}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required value="${escapeHtml(form.username)}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>${selfServiceLinks(form)}${externalButtons(form)}`,
  );
  writeHtml(res, status, html, extraHeaders);
}

function selfServiceLinks(form: LoginForm): string {
  if (!form.selfService) return '';
  const { forgot, register } = form.selfService;
  return `<p><a href="${escapeHtml(forgot)}">Forgot password?</a>${register ? ` · <a href="${escapeHtml(register)}">Create account</a>` : ''}</p>`;
}

function externalButtons(form: LoginForm): string {
  if (!form.externalIdps?.length || !form.externalAction) return '';
  return `<p>or</p>${form.externalIdps
    .map(
      (name) => `<form method="post" action="${escapeHtml(form.externalAction!)}" data-idp="${escapeHtml(name)}">
<input type="hidden" name="transaction" value="${escapeHtml(form.transaction)}"><input type="hidden" name="csrf" value="${escapeHtml(form.csrf)}"><input type="hidden" name="source" value="${escapeHtml(name)}">
<button type="submit">Sign in with ${escapeHtml(name)}</button></form>`,
    )
    .join('')}`;
}

export interface ConsentForm {
  action: string;
  transaction: string;
  csrf: string;
  clientName: string;
  /** Scopes the user has not agreed to yet, in the order requested. */
  scopes: string[];
}

const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are (your user id)',
  profile: 'Your profile: name, username, locale and picture',
  email: 'Your email address and whether it is verified',
  offline_access: 'Stay signed in to your account while you are away (refresh tokens)',
};

/** What a scope means to a person (an API scope: its name). */
export function scopeText(scope: string): string {
  return SCOPE_TEXT[scope] ?? `Use the API permission "${scope}"`;
}

export function writeConsentPage(res: ServerResponse, form: ConsentForm, extraHeaders: Record<string, string | string[]> = {}): void {
  const html = page(
    'Allow access',
    `<h1>Allow ${escapeHtml(form.clientName)} to access your account?</h1>
<p>${escapeHtml(form.clientName)} asks to:</p><ul>${form.scopes.map((s) => `<li data-scope="${escapeHtml(s)}">${escapeHtml(scopeText(s))}</li>`).join('')}</ul>
<form method="post" action="${escapeHtml(form.action)}">
<input type="hidden" name="transaction" value="${escapeHtml(form.transaction)}"><input type="hidden" name="csrf" value="${escapeHtml(form.csrf)}">
<button type="submit" name="decision" value="allow">Allow</button> <button type="submit" name="decision" value="deny">Deny</button></form>`,
  );
  writeHtml(res, 200, html, extraHeaders);
}

/** The signed-in user's consents, each with a revoke button (POST, CSRF token of the session). */
export function writeConsentsPage(
  res: ServerResponse,
  action: string,
  csrf: string,
  consents: { clientId: string; clientName: string; scopes: string[] }[],
  notice: string | null,
): void {
  const rows = consents
    .map(
      (c) => `<li><strong>${escapeHtml(c.clientName)}</strong>: ${c.scopes.map(escapeHtml).join(', ')}
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><input type="hidden" name="client_id" value="${escapeHtml(c.clientId)}">
<button type="submit">Revoke access of ${escapeHtml(c.clientName)}</button></form></li>`,
    )
    .join('');
  const body = `<h1>Applications with access</h1>${notice ? `<p role="status">${escapeHtml(notice)}</p>` : ''}${rows ? `<ul>${rows}</ul>` : '<p>No application has access to your account.</p>'}`;
  writeHtml(res, 200, page('Applications with access', body));
}

export function writeErrorPage(res: ServerResponse, status: number, code: string, message: string, extraHeaders: Record<string, string | string[]> = {}): void {
  writeHtml(res, status, page('Sign-in error', `<h1>Sign-in error</h1><p class="error" data-code="${escapeHtml(code)}">${escapeHtml(message)}</p>`), extraHeaders);
}

export function writeHtml(res: ServerResponse, status: number, html: string, extraHeaders: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { ...PAGE_HEADERS, ...extraHeaders, 'content-length': String(Buffer.byteLength(html)) });
  res.end(html);
}

/** 303 to a URL the client registered (never to one the request made up). */
export function writeRedirect(res: ServerResponse, location: string, extraHeaders: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', pragma: 'no-cache', 'content-length': '0', ...extraHeaders });
  res.end();
}
