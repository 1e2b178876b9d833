import { Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { sessionSchema } from '../auth/login.schema';
import { Contract } from '../openapi/contract.decorator';
import { ProblemError } from '../problems/problem.error';
import { ExternalOperatorSources } from './external-operator-sources';
import { OidcOperatorSso } from './oidc-operator-sso';
import { SamlOperatorSso } from './saml-operator-sso';
import { HANDOFF_TTL_SECONDS, PENDING_TTL_SECONDS, refusalOf, SsoAdmission } from './sso-admission';
import { clearCookie, cookieOf, HANDOFF_COOKIE, PENDING_COOKIE, setCookie, SSO_PATH } from './sso-cookies';
import { SsoLoginStore, type SsoHandoff } from './sso-login-store';

const ssoSourcesSchema = z.array(
  z.object({
    id: z.uuid(),
    name: z.string(),
    type: z.enum(['oidc', 'saml']),
    /** What the button says: the source's description, else its name. */
    displayName: z.string(),
  }),
);
const ssoSessionSchema = sessionSchema.extend({ username: z.string() });
const sourceParam = { source: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/) };
/** What a SAML IdP's auto-posting form sends to the ACS (HTTP-POST binding). */
const acsForm = z.object({ SAMLResponse: z.string().describe('the base64 Response'), RelayState: z.string().describe('what the AuthnRequest carried') });
/** Where the browser lands after every outcome: the console's sign-in screen, which collects it. */
const CONSOLE_SIGN_IN = '/ui/sign-in?sso=complete';
/** A Host header as a redirect URI may carry it (name or address, optional port). */
const HOST = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;

/**
 * Operator single sign-on through external OpenID Providers and SAML 2.0 IdPs (docs/architecture.md,
 * "Operator single sign-on"). Public routes (no session yet); start, callback, ACS and continuation
 * are browser navigations answered with redirects, never with a token: every outcome, and a start
 * that cannot begin, ends on the console's sign-in screen, which collects it with
 * `POST /auth/sso/session` (a session, or the refusal as problem+json).
 */
@Controller('api/v1/auth/sso')
export class OperatorSsoController {
  constructor(
    private readonly sources: ExternalOperatorSources,
    private readonly oidc: OidcOperatorSso,
    private readonly saml: SamlOperatorSso,
    private readonly admission: SsoAdmission,
    private readonly store: SsoLoginStore,
  ) {}

  @Get()
  @Contract({ summary: 'The external identity sources operators may sign in with (for the sign-in screen); nothing about their clients', public: true, response: ssoSourcesSchema })
  async list() {
    return (await this.sources.offered()).map((s) => ({ id: s.id, name: s.name, type: s.type, displayName: s.description ?? s.name }));
  }

  @Get(':source/start')
  @Contract({
    summary:
      'Start an operator sign-in at the source’s IdP, bound to this browser by an HttpOnly cookie: 302 to an OpenID Provider’s authorization endpoint (code + PKCE + state + nonce) or to a SAML IdP’s SSO URL (AuthnRequest, HTTP-Redirect binding)',
    public: true,
    status: 302,
    pathParams: sourceParam,
  })
  async start(@Param('source') name: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    let started: { location: string; browserKey: string };
    try {
      const source = await this.sources.usable(name);
      started =
        source.type === 'saml'
          ? await this.saml.start(source.row, source.idp, originOf(request))
          : await this.oidc.start(source.row, source.idp, `${originOf(request)}${SSO_PATH}/${name}/callback`);
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      return this.handBack(request, reply, refusalOf(err));
    }
    reply.header('set-cookie', setCookie(request, PENDING_COOKIE, started.browserKey, 'Lax', PENDING_TTL_SECONDS));
    redirect(reply, started.location);
  }

  @Get(':source/callback')
  @Contract({
    summary: 'The OpenID Provider’s redirect back: verifies the sign-in, provisions the operator, then 302 to the console, which collects the outcome',
    public: true,
    status: 302,
    pathParams: sourceParam,
  })
  async callback(@Param('source') source: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const url = new URL(request.url, 'http://manager.invalid'); // only its query is read
    return this.handBack(request, reply, await this.oidc.callback(source, url, cookieOf(request, PENDING_COOKIE)));
  }

  /*
   * Documented read-only: it changes nothing the audit trail covers (it takes the sign-in's
   * one-use record and leaves another in Redis); the operator is provisioned, audited, at /continue.
   */
  @Post(':source/acs')
  @Contract({
    summary:
      'The SAML Assertion Consumer Service (HTTP-POST binding, posted cross-site by the IdP): verifies the Response against the sign-in its RelayState names, then 302 to /continue for the browser that started it (or to the console with the refusal)',
    public: true,
    status: 302,
    readOnly: true,
    pathParams: sourceParam,
    form: acsForm,
  })
  async acs(@Param('source') source: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
    const verified = await this.saml.acs(source, form);
    if (!('handle' in verified)) return this.handBack(request, reply, verified);
    redirect(reply, `${SSO_PATH}/${encodeURIComponent(source)}/continue?handle=${verified.handle}`);
  }

  @Get(':source/continue')
  @Contract({
    summary:
      'After the SAML ACS, the browser’s top-level GET with its binding cookie: provisions the operator the verified Response names, then 302 to the console, which collects the outcome',
    public: true,
    status: 302,
    pathParams: sourceParam,
    query: z.object({ handle: z.string().max(128).optional() }),
  })
  async continue(@Param('source') source: string, @Query('handle') handle: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const key = typeof handle === 'string' ? handle : '';
    return this.handBack(request, reply, await this.saml.continue(source, key, cookieOf(request, PENDING_COOKIE)));
  }

  @Get(':source/metadata')
  @Contract({
    summary: 'The Manager’s SAML Service Provider metadata for this source’s IdP: entityID, ACS (HTTP-POST), signed Assertions wanted, the AuthnRequest signing certificate if any',
    public: true,
    pathParams: sourceParam,
    produces: 'application/samlmetadata+xml',
  })
  async metadata(@Param('source') source: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const xml = await this.saml.metadata(source, originOf(request));
    void reply.code(200).header('content-type', 'application/samlmetadata+xml').header('cache-control', 'public, max-age=300').send(xml);
  }

  @Post('session')
  @Contract({
    summary: 'Collect the outcome of a single sign-on (same-site, once): a bearer session as from POST /auth/login, or the refusal',
    public: true,
    status: 200,
    response: ssoSessionSchema,
  })
  async session(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin')
      throw new ProblemError(403, 'sso_cross_site', 'Cross-site request refused', 'a single sign-on is completed by the console of this Manager only');
    reply.header('set-cookie', clearCookie(request, HANDOFF_COOKIE, 'Strict'));
    reply.header('cache-control', 'no-store');
    return this.admission.collect(cookieOf(request, HANDOFF_COOKIE));
  }

  /** Keeps the outcome under a one-use key only this browser's cookie holds, and sends the browser to the console. */
  private async handBack(request: FastifyRequest, reply: FastifyReply, handoff: SsoHandoff): Promise<void> {
    const key = randomBytes(32).toString('base64url');
    await this.store.saveHandoff(key, handoff, HANDOFF_TTL_SECONDS);
    reply.header('set-cookie', [setCookie(request, HANDOFF_COOKIE, key, 'Strict', HANDOFF_TTL_SECONDS), clearCookie(request, PENDING_COOKIE, 'Lax')]);
    redirect(reply, CONSOLE_SIGN_IN);
  }
}

function redirect(reply: FastifyReply, location: string): void {
  // The callback's URL holds the IdP's code: no cache keeps the answer, no Referer carries it on.
  void reply.code(302).header('location', location).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').send();
}

/** This Manager as the browser reached it (trusted proxies' X-Forwarded-Proto/Host per MANAGER_TRUST_PROXY); the IdP only accepts the redirect URIs registered with it. */
function originOf(request: FastifyRequest): string {
  if (!HOST.test(request.host)) throw new ProblemError(400, 'invalid_host', 'Invalid Host header', 'the request’s Host header cannot name this Manager');
  return `${request.protocol}://${request.host}`;
}
