import type { EndUserSelfServiceReply } from '@idm/config-bus';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ActiveConfiguration } from '../serving/active-configuration';
import { formParameters, queryParameters } from '../token-service/token-parameters';
import { oidcClientOf } from './authorization-request';
import { cookiesOf, setCookie } from './cookies';
import { writeErrorPage } from './login-page';
import type { OidcStore } from './oidc-store';
import { writeSelfServiceForm, writeSelfServiceNotice } from './self-service-page';
import type { SelfServiceManager } from './self-service-manager';
import { LOGIN_EXPIRED, readTransactionForm, sameSecret } from './transaction-form';

/** The double-submit cookie of the mail-link pages (they belong to no login transaction). */
const LINK_CSRF_COOKIE = 'idm_link_csrf';
const PREFIX = '/credential';
/** How long the login page trusts the Manager's "self-registration is on" for a project. */
const STATUS_CACHE_MS = 15_000;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,189}$/;
const PROJECT = /^[0-9a-fA-F-]{1,64}$/;
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

const INVALID_LINK = 'This link is invalid, has expired or was already used. Ask for a new mail.';
const TRY_LATER = 'This service is not available right now. Try again later.';

/**
 * "Create account", "Forgot password?" and the pages the mails link to, on the OpenID Provider
 * (docs/architecture.md, "End-user self-service"). The Gateway renders and checks the forms (the
 * login transaction's CSRF token for the first two, a double-submit cookie for the mail links);
 * every decision and write is the Manager's over the bus (`end-users.self-service`). Nothing here
 * says whether an account exists for an address: the Manager answers the same either way.
 */
export class SelfServicePages {
  private readonly status = new Map<string, { on: boolean | 'unavailable'; until: number }>();

  constructor(
    private readonly active: ActiveConfiguration,
    private readonly store: OidcStore,
    private readonly manager: SelfServiceManager,
    private readonly addressOf: (peer: string, headers: IncomingMessage['headers']) => string,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The login page's links for this transaction: reset always, registration when the project has it on (cached briefly; off while the Manager is away). */
  async linksFor(projectId: string, transaction: string, issuer: string): Promise<{ forgot: string; register: string | null }> {
    const q = `?transaction=${encodeURIComponent(transaction)}`;
    return { forgot: `${issuer}/forgot-password${q}`, register: (await this.registrationOn(projectId)) === true ? `${issuer}/create-account${q}` : null };
  }

  /** GET: the form (when the project allows it); POST: the Manager creates the account and mails the verification link. */
  async register(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const form = (error: string | null, status: number, transaction: string, csrf: string, email = '') =>
      writeSelfServiceForm(res, status, {
        title: 'Create account',
        action: `${issuer}/create-account`,
        hidden: { transaction, csrf },
        fields: [
          { name: 'email', label: 'Email', type: 'email', autocomplete: 'email', value: email },
          { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password' },
          { name: 'confirm', label: 'Repeat password', type: 'password', autocomplete: 'new-password' },
        ],
        button: 'Create account',
        error,
      });
    if (req.method === 'GET') {
      const login = await this.loginOf(req, res);
      if (!login) return;
      const on = await this.registrationOn(login.projectId);
      if (on === 'unavailable') return this.unavailable(res);
      if (!on) return writeSelfServiceNotice(res, 403, 'Create account', 'registration_disabled', 'This application does not let you create an account yourself.');
      return form(null, 200, login.transaction, login.csrf);
    }
    const read = await readTransactionForm(req, res, this.active, this.store, 'login');
    if (!read) return;
    const projectId = this.projectOf(read.pending.clientId);
    if (!projectId) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const email = (read.form.get('email') ?? '').trim();
    const password = read.form.get('password') ?? '';
    const again = (status: number, error: string) => form(error, status, read.transaction, read.pending.csrf, email.length <= 254 && !/[\r\n]/.test(email) ? email : '');
    if (!EMAIL.test(email)) return again(400, 'Enter a valid email address.');
    if (password !== (read.form.get('confirm') ?? '')) return again(400, 'The passwords do not match.');
    const reply = await this.manager.ask({ action: 'register', projectId, address: this.address(req), email, password: password.slice(0, 1024) });
    if (reply !== 'unavailable' && reply.outcome === 'refused' && reply.code === 'invalid_email') return again(400, 'Enter a valid email address.');
    if (reply !== 'unavailable' && reply.outcome === 'refused' && reply.code === 'weak_password')
      return again(400, 'Choose a password of at least 8 characters that is not your email address.');
    this.answer(res, reply, 'Create account', 'Check your mail: if this address can be used for a new account, we sent it a link to confirm it.');
  }

  /** GET: the form; POST: the Manager mails a reset link if an account has the address (the answer is the same either way). */
  async forgotPassword(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const form = (error: string | null, status: number, transaction: string, csrf: string) =>
      writeSelfServiceForm(res, status, {
        title: 'Reset your password',
        intro: 'Enter the email address of your account: we will send it a link to choose a new password.',
        action: `${issuer}/forgot-password`,
        hidden: { transaction, csrf },
        fields: [{ name: 'email', label: 'Email', type: 'email', autocomplete: 'email' }],
        button: 'Send link',
        error,
      });
    if (req.method === 'GET') {
      const login = await this.loginOf(req, res);
      if (login) form(null, 200, login.transaction, login.csrf);
      return;
    }
    const read = await readTransactionForm(req, res, this.active, this.store, 'login');
    if (!read) return;
    const projectId = this.projectOf(read.pending.clientId);
    if (!projectId) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const email = (read.form.get('email') ?? '').trim();
    if (!EMAIL.test(email)) return form('Enter a valid email address.', 400, read.transaction, read.pending.csrf);
    const reply = await this.manager.ask({ action: 'request-reset', projectId, address: this.address(req), email });
    if (reply !== 'unavailable' && reply.outcome === 'refused' && reply.code === 'invalid_email')
      return form('Enter a valid email address.', 400, read.transaction, read.pending.csrf);
    this.answer(res, reply, 'Reset your password', 'Check your mail: if an account uses this address, we sent it a link to choose a new password.');
  }

  /**
   * What the login page answers a user whose password was right but whose email the project wants
   * verified first (403): why, and a form for a new verification mail bound to the same login
   * transaction. It names no address: the form asks for it, and its answer is the same for any.
   */
  emailNotVerified(res: ServerResponse, issuer: string, transaction: string, csrf: string): void {
    this.resendForm(res, 403, issuer, transaction, csrf, null, 'email_not_verified');
  }

  /** GET: the form for a new verification mail; POST: the Manager mails one if an account with the address still needs it (the answer is the same either way). */
  async resendVerification(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    if (req.method === 'GET') {
      const login = await this.loginOf(req, res);
      if (login) this.resendForm(res, 200, issuer, login.transaction, login.csrf, null);
      return;
    }
    const read = await readTransactionForm(req, res, this.active, this.store, 'login');
    if (!read) return;
    const projectId = this.projectOf(read.pending.clientId);
    if (!projectId) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const email = (read.form.get('email') ?? '').trim();
    if (!EMAIL.test(email)) return this.resendForm(res, 400, issuer, read.transaction, read.pending.csrf, 'Enter a valid email address.');
    const reply = await this.manager.ask({ action: 'resend-verification', projectId, address: this.address(req), email });
    if (reply !== 'unavailable' && reply.outcome === 'refused' && reply.code === 'invalid_email')
      return this.resendForm(res, 400, issuer, read.transaction, read.pending.csrf, 'Enter a valid email address.');
    this.answer(res, reply, 'Confirm your email address', 'Check your mail: if an account with this address still needs confirming, we sent it a new link.');
  }

  private resendForm(res: ServerResponse, status: number, issuer: string, transaction: string, csrf: string, error: string | null, outcome?: string): void {
    writeSelfServiceForm(res, status, {
      title: 'Confirm your email address',
      intro: 'This application needs a confirmed email address before you sign in. Open the link we mailed you, or enter your address to get a new one; then sign in again.',
      outcome,
      action: `${issuer}/resend-verification`,
      hidden: { transaction, csrf },
      fields: [{ name: 'email', label: 'Email', type: 'email', autocomplete: 'email' }],
      button: 'Send a new link',
      error,
    });
  }

  /** The link of the verification mail. GET shows a button (a mail scanner's prefetch must not use the link up); POST confirms. */
  async verifyEmail(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const link = await this.linkOf(req, res);
    if (!link) return;
    if (req.method === 'GET') {
      const csrf = randomBytes(24).toString('base64url');
      return writeSelfServiceForm(
        res,
        200,
        {
          title: 'Confirm your email',
          action: `${issuer}/verify-email`,
          hidden: { project: link.projectId, token: link.token, csrf },
          fields: [],
          button: 'Confirm my email address',
        },
        { 'set-cookie': this.linkCsrfCookie(csrf, issuer) },
      );
    }
    const reply = await this.manager.ask({ action: 'verify-email', projectId: link.projectId, address: this.address(req), token: link.token });
    if (reply !== 'unavailable' && reply.outcome === 'refused' && reply.code === 'invalid_token')
      return writeSelfServiceNotice(res, 400, 'Confirm your email', 'invalid_token', INVALID_LINK);
    this.answer(res, reply, 'Confirm your email', 'Your email address is confirmed. You can go back to the application.');
  }

  /** The link of the reset mail: GET the new-password form, POST sets it (the Manager checks the password policy before using up the link). */
  async resetPassword(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const link = await this.linkOf(req, res);
    if (!link) return;
    const form = (status: number, error: string | null, csrf: string, headers: Record<string, string | string[]> = {}) =>
      writeSelfServiceForm(
        res,
        status,
        {
          title: 'Choose a new password',
          action: `${issuer}/reset-password`,
          hidden: { project: link.projectId, token: link.token, csrf },
          fields: [
            { name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password' },
            { name: 'confirm', label: 'Repeat password', type: 'password', autocomplete: 'new-password' },
          ],
          button: 'Set password',
          error,
        },
        headers,
      );
    if (req.method === 'GET') {
      const csrf = randomBytes(24).toString('base64url');
      return form(200, null, csrf, { 'set-cookie': this.linkCsrfCookie(csrf, issuer) });
    }
    const password = link.form!.get('password') ?? '';
    if (password !== (link.form!.get('confirm') ?? '')) return form(400, 'The passwords do not match.', link.csrf!);
    const reply = await this.manager.ask({ action: 'reset-password', projectId: link.projectId, address: this.address(req), token: link.token, password: password.slice(0, 1024) });
    if (reply !== 'unavailable' && reply.outcome === 'refused' && reply.code === 'weak_password') return form(400, 'Choose a password of at least 8 characters.', link.csrf!);
    if (reply !== 'unavailable' && reply.outcome === 'refused' && reply.code === 'invalid_token')
      return writeSelfServiceNotice(res, 400, 'Choose a new password', 'invalid_token', INVALID_LINK);
    this.answer(res, reply, 'Choose a new password', 'Your password is changed. Go back to the application and sign in with it.');
  }

  /** The common outcomes: done or accepted (200 with `text`), refused, rate limited (429 + Retry-After), the Manager away (503). */
  private answer(res: ServerResponse, reply: EndUserSelfServiceReply | 'unavailable', title: string, text: string): void {
    if (reply === 'unavailable') return this.unavailable(res);
    switch (reply.outcome) {
      case 'accepted':
      case 'done':
        return writeSelfServiceNotice(res, 200, title, reply.outcome, text);
      case 'rate_limited':
        return writeSelfServiceNotice(res, 429, title, 'rate_limited', 'Too many attempts. Wait a while and try again.', { 'retry-after': String(reply.retryAfterSeconds) });
      case 'refused':
        if (reply.code === 'registration_disabled') return writeSelfServiceNotice(res, 403, title, reply.code, 'This application does not let you create an account yourself.');
        if (reply.code === 'mail_unavailable') return this.unavailable(res);
        return writeSelfServiceNotice(res, 400, title, reply.code, 'The request could not be handled.');
      default:
        return this.unavailable(res);
    }
  }

  private unavailable(res: ServerResponse): void {
    writeSelfServiceNotice(res, 503, 'Unavailable', 'unavailable', TRY_LATER, { 'retry-after': '30' });
  }

  /** GET of a transaction page: the login it belongs to, still waiting for the user to sign in; null: the error page is written. */
  private async loginOf(req: IncomingMessage, res: ServerResponse): Promise<{ transaction: string; csrf: string; projectId: string } | null> {
    if (!this.active.current) {
      this.unavailable(res);
      return null;
    }
    const transaction = queryParameters(req.url ?? '').get('transaction') ?? '';
    const pending = transaction && transaction.length <= 128 ? await this.store.pending(transaction) : null;
    const projectId = pending && !pending.user ? this.projectOf(pending.clientId) : null;
    if (!pending || !projectId) {
      writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
      return null;
    }
    return { transaction, csrf: pending.csrf, projectId };
  }

  /** The project and token of a mail link (query on GET; form, checked against the double-submit cookie, on POST). */
  private async linkOf(req: IncomingMessage, res: ServerResponse): Promise<{ projectId: string; token: string; form?: URLSearchParams; csrf?: string } | null> {
    let params: URLSearchParams;
    try {
      params = req.method === 'GET' ? queryParameters(req.url ?? '') : await formParameters(req);
    } catch {
      writeErrorPage(res, 400, 'invalid_request', 'The form could not be read.');
      return null;
    }
    const projectId = params.get('project') ?? '';
    const token = params.get('token') ?? '';
    if (!PROJECT.test(projectId) || !TOKEN.test(token)) {
      writeSelfServiceNotice(res, 400, 'Invalid link', 'invalid_token', INVALID_LINK);
      return null;
    }
    if (req.method === 'GET') return { projectId, token };
    const csrf = params.get('csrf') ?? '';
    if (!sameSecret(csrf, cookiesOf(req.headers.cookie).get(LINK_CSRF_COOKIE) ?? '')) {
      writeErrorPage(res, 403, 'csrf_failed', 'The form was not sent by this browser. Open the link from your mail again.');
      return null;
    }
    return { projectId, token, form: params, csrf };
  }

  private linkCsrfCookie(csrf: string, issuer: string): string {
    return setCookie(LINK_CSRF_COOKIE, csrf, { path: PREFIX, secure: issuer.startsWith('https:'), maxAgeSeconds: 3600 });
  }

  private projectOf(clientId: string): string | null {
    const serving = this.active.current;
    return (serving && oidcClientOf(serving.tokens.clients, clientId)?.credential.projectId) ?? null;
  }

  private address(req: IncomingMessage): string {
    return this.addressOf(req.socket.remoteAddress ?? '', req.headers).slice(0, 64) || 'unknown';
  }

  private async registrationOn(projectId: string): Promise<boolean | 'unavailable'> {
    const now = this.clock();
    const cached = this.status.get(projectId);
    if (cached && cached.until > now) return cached.on;
    const reply = await this.manager.ask({ action: 'status', projectId });
    if (this.status.size > 10_000) this.status.clear();
    if (reply === 'unavailable' || reply.outcome !== 'status') {
      this.log.warn({ projectId }, 'the Manager did not say whether self-registration is on; not offered');
      // Remembered too: while the Manager is away, login pages do not each wait for the bus timeout.
      this.status.set(projectId, { on: 'unavailable', until: now + STATUS_CACHE_MS / 3 });
      return 'unavailable';
    }
    this.status.set(projectId, { on: reply.selfRegistration, until: now + STATUS_CACHE_MS });
    return reply.selfRegistration;
  }
}
