import type { EndUserSelfServiceReply } from '@idm/config-bus';
import { eventually } from '@idm/test-kit';
import Redis from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';
import { EndUserSelfServiceController } from '../src/end-users/self-service/end-user-self-service.controller';
import { PasswordHasher } from '../src/auth/password-hasher';
import { CredentialRepository } from '../src/repositories/credential.repository';
import { SelfServiceRateLimit } from '../src/end-users/self-service/self-service-rate-limit';
import { EndUserRegistrationRepository } from '../src/repositories/end-user-registration.repository';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { linkOf, SmtpInbox, type ReceivedMail } from './support/smtp-inbox';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PAGES = 'https://gw.example.test/credential';
const tokenKey = (token: string) => `{idm:eu-token}:${createHash('sha256').update(token).digest('hex')}`;

/**
 * End users' self-service on the Manager's side (#15 §1): the per-project switch, registration,
 * email verification and password reset by single-use, expiring tokens stored hashed in Redis,
 * mails through nodemailer received by a real SMTP server (`smtp-server`) of the test. The
 * Gateway's pages reach these decisions over the bus (`end-users.self-service`): here its message
 * handler is called with what a Gateway would send. Every hostile case of the brief is one test.
 */
describe('end-user self-service (registration, verification, password reset)', () => {
  const s = randomBytes(3).toString('hex');
  let database: TestDatabase;
  let m: InProcessManager;
  let inbox: SmtpInbox;
  const redis = new Redis(REDIS_URL);
  let project: string;
  let other: string;
  let viewerToken: string;
  const address = `198.51.100.${Math.floor(Math.random() * 200) + 1}`;
  const ask = (payload: unknown): Promise<EndUserSelfServiceReply> => m.app.get(EndUserSelfServiceController).handle(payload);
  const register = (email: string, password = 'new-user-password', p = project, from = address) => ask({ action: 'register', projectId: p, address: from, email, password });
  const requestReset = (email: string, p = project, from = address) => ask({ action: 'request-reset', projectId: p, address: from, email });
  const users = async (p = project) => (await m.request('GET', `/api/v1/projects/${p}/users?limit=100`)).body as Array<Record<string, any>>;
  const userOf = async (email: string, p = project) => (await users(p)).find((u) => u.email.toLowerCase() === email.toLowerCase());
  /** The next mail to this address (the n-th, 1-based), waited for. */
  const mailTo = (email: string, n = 1): Promise<ReceivedMail> =>
    eventually(
      () => Promise.resolve(inbox.to(email)),
      (mails) => mails.length >= n,
      { what: `mail #${n} to ${email}`, timeoutMs: 20_000 },
    ).then((mails) => mails[n - 1]);
  const tokenOf = (mail: ReceivedMail) => linkOf(mail).searchParams.get('token')!;

  beforeAll(async () => {
    inbox = await SmtpInbox.start();
    database = await createTestDatabase('pglite');
    m = await startInProcessManager(database, { SMTP_URL: inbox.url, SMTP_FROM: 'IdM <idm@example.test>', END_USER_PAGES_URL: `${PAGES}/` });
    project = (await m.request('POST', '/api/v1/projects', { name: `ss-a-${s}` })).body.id;
    other = (await m.request('POST', '/api/v1/projects', { name: `ss-b-${s}` })).body.id;
    const roles: { name: string; id: string }[] = (await m.request('GET', '/api/v1/roles')).body;
    const viewer = (await m.request('POST', '/api/v1/users', { username: `ssviewer${s}`, password: 'user-password-1' })).body;
    await m.request('POST', '/api/v1/role-bindings', {
      roleId: roles.find((r) => r.name === 'project-viewer')!.id,
      subject: { type: 'user', id: viewer.id },
      scope: { type: 'project', id: project },
    });
    viewerToken = (await m.request('POST', '/api/v1/auth/login', { username: `ssviewer${s}`, password: 'user-password-1' }, { token: null })).body.token;
  }, 300_000);

  afterAll(async () => {
    for (const p of [project, other]) {
      if (!p) continue;
      const keys = await redis.keys(SelfServiceRateLimit.keyPattern(p));
      if (keys.length) await redis.del(...keys);
    }
    // Tokens of mails nobody consumed.
    for (const mail of inbox?.mails ?? []) await redis.del(tokenKey(tokenOf(mail))).catch(() => undefined);
    redis.disconnect();
    await m?.close();
    await database?.drop();
    await inbox?.stop();
  });

  it('keeps the switch per project: off by default, project:write to change it (403 for a viewer), audited; a bad body is 400 with nothing written', async () => {
    expect((await m.request('GET', `/api/v1/projects/${project}/end-user-registration`)).body).toEqual({ selfRegistration: false, requireVerifiedEmail: false });
    expect(await register(`early-${s}@example.org`)).toEqual({ outcome: 'refused', code: 'registration_disabled' });
    const denied = await m.request('PUT', `/api/v1/projects/${project}/end-user-registration`, { selfRegistration: true }, { token: viewerToken });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('permission_denied');
    const bad = await m.request('PUT', `/api/v1/projects/${project}/end-user-registration`, { selfRegistration: 'yes', extra: 1 });
    expect(bad.status).toBe(400);
    expect((await m.request('GET', `/api/v1/projects/${project}/end-user-registration`, undefined, { token: viewerToken })).body).toEqual({
      selfRegistration: false,
      requireVerifiedEmail: false,
    });
    const on = await m.request('PUT', `/api/v1/projects/${project}/end-user-registration`, { selfRegistration: true });
    expect(on).toMatchObject({ status: 200, body: { selfRegistration: true } });
    expect(await ask({ action: 'status', projectId: project })).toEqual({ outcome: 'status', selfRegistration: true });
    expect(await ask({ action: 'status', projectId: other })).toEqual({ outcome: 'status', selfRegistration: false });
    const audit = (await m.request('GET', '/api/v1/audit?entityKind=end_user_registration&limit=5')).body.items;
    expect(audit[0]).toMatchObject({ action: 'end_user_registration.create', entity: { id: project } });
    expect(await userOf(`early-${s}@example.org`)).toBeUndefined();
  });

  it('registers: an unverified end user, a verification mail with a single-use link to the Gateway page and never the password; verifying marks the email verified, a replay is refused', async () => {
    const email = `ada-${s}@example.org`;
    expect(await register(email, 'ada-secret-password')).toEqual({ outcome: 'accepted' });
    const mail = await mailTo(email);
    expect(mail.headers.get('subject')).toBe('Confirm your email address');
    expect(mail.headers.get('from')).toContain('idm@example.test');
    expect(mail.raw).not.toContain('ada-secret-password');
    const link = linkOf(mail);
    expect(`${link.origin}${link.pathname}`).toBe(`${PAGES}/verify-email`);
    expect(link.searchParams.get('project')).toBe(project);
    // Redis holds the token's hash, never the token.
    expect(await redis.exists(tokenKey(tokenOf(mail)))).toBe(1);
    expect(await redis.keys(`*${tokenOf(mail)}*`)).toEqual([]);
    const user = await userOf(email);
    expect(user).toMatchObject({ username: email, emailVerified: false, hasPassword: true, enabled: true });
    const audit = (await m.request('GET', `/api/v1/audit?entityId=${user!.id}`)).body.items;
    expect(audit[0]).toMatchObject({ action: 'end_user.register', actor: expect.objectContaining({ type: 'system', name: 'self-service' }) });
    expect(JSON.stringify(audit)).not.toContain('ada-secret-password');

    expect(await ask({ action: 'verify-email', projectId: project, address, token: tokenOf(mail) })).toEqual({ outcome: 'done' });
    expect((await userOf(email))!.emailVerified).toBe(true);
    expect(await ask({ action: 'verify-email', projectId: project, address, token: tokenOf(mail) })).toEqual({ outcome: 'refused', code: 'invalid_token' });
  });

  it('answers a taken address exactly like a new one (no enumeration) and creates nothing, sends nothing', async () => {
    const email = `ada-${s}@example.org`;
    const sentBefore = inbox.mails.length;
    expect(await register(email.toUpperCase(), 'another-password')).toEqual({ outcome: 'accepted' });
    // A registration after it is mailed; the taken address got nothing meanwhile.
    const next = `bea-${s}@example.org`;
    expect(await register(next)).toEqual({ outcome: 'accepted' });
    await mailTo(next);
    expect(inbox.mails.slice(sentBefore).map((m) => m.to)).toEqual([[next]]);
    expect((await users()).filter((u) => u.email.toLowerCase() === email)).toHaveLength(1);
  });

  it('refuses tampered, expired and other-project tokens and a reset token used to verify', async () => {
    const email = `cid-${s}@example.org`;
    await register(email);
    const first = tokenOf(await mailTo(email));
    const tampered = first.slice(0, -1) + (first.endsWith('A') ? 'B' : 'A');
    expect(await ask({ action: 'verify-email', projectId: project, address, token: tampered })).toEqual({ outcome: 'refused', code: 'invalid_token' });
    expect(await ask({ action: 'verify-email', projectId: project, address, token: 'x'.repeat(300) })).toEqual({ outcome: 'refused', code: 'invalid_request' });
    // Presented for another project: refused (and spent: a link sent for one project is tried there only).
    expect(await ask({ action: 'verify-email', projectId: other, address, token: first })).toEqual({ outcome: 'refused', code: 'invalid_token' });
    expect(await ask({ action: 'verify-email', projectId: project, address, token: first })).toEqual({ outcome: 'refused', code: 'invalid_token' });
    // Expired: Redis lets the hashed token go at its TTL (made short here instead of waiting 24 h).
    const user = await userOf(email);
    const resent = await m.request('POST', `/api/v1/projects/${project}/users/${user!.id}/verification-mail`);
    expect(resent.status).toBe(200);
    const second = tokenOf(await mailTo(email, 2));
    expect(await redis.ttl(tokenKey(second))).toBeGreaterThan(23 * 3600);
    await redis.pexpire(tokenKey(second), 1);
    await eventually(
      () => redis.exists(tokenKey(second)),
      (n) => n === 0,
      { what: 'the token to expire' },
    );
    expect(await ask({ action: 'verify-email', projectId: project, address, token: second })).toEqual({ outcome: 'refused', code: 'invalid_token' });
    // A reset token is not a verification token.
    await redis.del((await redis.keys(SelfServiceRateLimit.keyPattern(project))) as never);
    expect(await requestReset(email)).toEqual({ outcome: 'accepted' });
    const reset = tokenOf(await mailTo(email, 3));
    expect(await ask({ action: 'verify-email', projectId: project, address, token: reset })).toEqual({ outcome: 'refused', code: 'invalid_token' });
    expect((await userOf(email))!.emailVerified).toBe(false);
  });

  it('resets a password: the same answer for an unknown address (no mail), the policy checked before the link is used, single use, the new password works', async () => {
    const email = `dan-${s}@example.org`;
    await m.request('POST', `/api/v1/projects/${project}/users`, { username: `dan${s}`, password: 'old-password-1', email });
    const sentBefore = inbox.mails.length;
    expect(await requestReset(`nobody-${s}@example.org`)).toEqual({ outcome: 'accepted' });
    expect(await requestReset(email)).toEqual({ outcome: 'accepted' });
    const mail = await mailTo(email);
    expect(inbox.mails.slice(sentBefore).map((x) => x.to)).toEqual([[email]]);
    expect(mail.headers.get('subject')).toBe('Reset your password');
    expect(linkOf(mail).pathname).toBe('/credential/reset-password');
    expect(await redis.ttl(tokenKey(tokenOf(mail)))).toBeLessThanOrEqual(30 * 60);
    const token = tokenOf(mail);
    expect(await ask({ action: 'reset-password', projectId: project, address, token, password: 'short' })).toEqual({ outcome: 'refused', code: 'weak_password' });
    expect(await ask({ action: 'reset-password', projectId: project, address, token, password: 'brand-new-password' })).toEqual({ outcome: 'done' });
    expect(await ask({ action: 'reset-password', projectId: project, address, token, password: 'third-password-x' })).toEqual({ outcome: 'refused', code: 'invalid_token' });
    const row = await m.app.get(CredentialRepository).find(project, (await userOf(email))!.id);
    const hasher = m.app.get(PasswordHasher);
    expect(await hasher.verify(row!.passwordHash!, 'brand-new-password')).toBe(true);
    expect(await hasher.verify(row!.passwordHash!, 'old-password-1')).toBe(false);
    expect(row!.endUser!.emailVerified).toBe(true);
    const audit = (await m.request('GET', `/api/v1/audit?entityId=${row!.id}`)).body.items;
    expect(audit[0]).toMatchObject({ action: 'end_user.reset_password', actor: expect.objectContaining({ name: 'self-service' }) });
    expect(JSON.stringify(audit)).not.toContain('brand-new-password');
  });

  it('refuses CR/LF (header injection) in an address, creates and sends nothing', async () => {
    const sentBefore = inbox.mails.length;
    for (const email of [`eve-${s}@example.org\r\nBcc: victim@example.org`, `eve-${s}@example.org\nSubject: hi`, `Eve <eve-${s}@example.org>`]) {
      expect(await register(email)).toEqual({ outcome: 'refused', code: 'invalid_email' });
      expect(await requestReset(email)).toEqual({ outcome: 'refused', code: 'invalid_email' });
    }
    expect(await register(`eve-${s}@example.org`, `eve-${s}@example.org`)).toEqual({ outcome: 'refused', code: 'weak_password' });
    expect(await ask({ action: 'register', projectId: project, email: `eve-${s}@example.org` })).toEqual({ outcome: 'refused', code: 'invalid_request' });
    expect((await users()).filter((u) => u.email.includes('eve-'))).toEqual([]);
    expect(inbox.mails.length).toBe(sentBefore);
  });

  it('rate-limits per address and per email with a Retry-After, for registration and reset requests', async () => {
    const email = `flo-${s}@example.org`;
    const from = '203.0.113.77';
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await requestReset(email, project, from));
    expect(replies.slice(0, 3)).toEqual([{ outcome: 'accepted' }, { outcome: 'accepted' }, { outcome: 'accepted' }]);
    expect(replies[3]).toEqual({ outcome: 'rate_limited', retryAfterSeconds: expect.any(Number) });
    expect((replies[3] as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(0);
    expect((replies[3] as { retryAfterSeconds: number }).retryAfterSeconds).toBeLessThanOrEqual(600);
    // Per address: many addresses from one place.
    const spray = '203.0.113.78';
    const outcomes = [];
    for (let i = 0; i < 11; i++) outcomes.push((await register(`spray${i}-${s}@example.org`, 'spray-password', project, spray)).outcome);
    expect(outcomes.slice(0, 10).every((o) => o === 'accepted')).toBe(true);
    expect(outcomes[10]).toBe('rate_limited');
    expect(await userOf(`spray10-${s}@example.org`)).toBeUndefined();
  });

  it('leaves nothing half-written when the SMTP server refuses the mail: no account, mail_unavailable', async () => {
    const email = `gus-${s}@example.org`;
    inbox.refuse.add(email);
    try {
      expect(await register(email)).toEqual({ outcome: 'refused', code: 'mail_unavailable' });
      expect(await userOf(email)).toBeUndefined();
    } finally {
      inbox.refuse.delete(email);
    }
    expect(await register(email)).toEqual({ outcome: 'accepted' });
    expect(await userOf(email)).toBeDefined();
  });

  it('lets an operator send the verification or reset mail (credential:write; 403 for a viewer, 404 for an unknown user, 409 when already verified)', async () => {
    const email = `hal-${s}@example.org`;
    const user = (await m.request('POST', `/api/v1/projects/${project}/users`, { username: `hal${s}`, email, password: 'hal-password-1' })).body;
    const denied = await m.request('POST', `/api/v1/projects/${project}/users/${user.id}/password-reset-mail`, undefined, { token: viewerToken });
    expect(denied.status).toBe(403);
    expect((await m.request('POST', `/api/v1/projects/${project}/users/00000000-0000-4000-8000-000000000000/password-reset-mail`)).status).toBe(404);
    const sent = await m.request('POST', `/api/v1/projects/${project}/users/${user.id}/password-reset-mail`);
    expect(sent).toMatchObject({ status: 200, body: { sentTo: email, expiresAt: expect.any(String) } });
    expect(JSON.stringify(sent.body)).not.toMatch(/token/i);
    const mail = await mailTo(email);
    expect(mail.raw).not.toContain('hal-password-1');
    expect(linkOf(mail).pathname).toBe('/credential/reset-password');
    const audit = (await m.request('GET', `/api/v1/audit?entityKind=end_user_mail&limit=1`)).body.items;
    expect(audit[0]).toMatchObject({ action: 'end_user_mail.reset_password', entity: { id: user.id } });
    await m.request('PATCH', `/api/v1/projects/${project}/users/${user.id}`, { emailVerified: true });
    const already = await m.request('POST', `/api/v1/projects/${project}/users/${user.id}/verification-mail`);
    expect(already).toMatchObject({ status: 409, body: { code: 'email_already_verified' } });
  });

  it('keeps "require a verified email to sign in" beside the switch: additive (false when left out), audited, listed for the Gateways; a bad value is 400 with nothing written', async () => {
    const url = `/api/v1/projects/${other}/end-user-registration`;
    const required = () => m.app.get(EndUserRegistrationRepository).projectsRequiringVerifiedEmail();
    expect((await m.request('PUT', url, { selfRegistration: false, requireVerifiedEmail: 'yes' })).status).toBe(400);
    expect((await m.request('PUT', url, { selfRegistration: false, requireVerifiedEmail: true }, { token: viewerToken })).status).toBe(403);
    expect((await m.request('GET', url)).body).toEqual({ selfRegistration: false, requireVerifiedEmail: false });
    expect(await required()).not.toContain(other);
    expect(await m.request('PUT', url, { selfRegistration: false, requireVerifiedEmail: true })).toMatchObject({
      status: 200,
      body: { selfRegistration: false, requireVerifiedEmail: true },
    });
    expect((await m.request('GET', url)).body).toEqual({ selfRegistration: false, requireVerifiedEmail: true });
    expect(await required()).toContain(other);
    expect(await required()).not.toContain(project);
    const [audited] = (await m.request('GET', `/api/v1/audit?entityKind=end_user_registration&entityId=${other}&limit=1`)).body.items;
    expect(audited).toMatchObject({ action: 'end_user_registration.create', diff: { requireVerifiedEmail: { new: true } } });
    // A body without it (as before the field existed) turns it off, like any PUT.
    expect((await m.request('PUT', url, { selfRegistration: false })).body).toEqual({ selfRegistration: false, requireVerifiedEmail: false });
    expect(await required()).not.toContain(other);
  });

  it('resends a verification mail for an unverified address only, answering the same for unknown, verified and directory-less addresses (no enumeration)', async () => {
    const from = `203.0.113.${Math.floor(Math.random() * 200) + 1}`;
    const resend = (email: string) => ask({ action: 'resend-verification', projectId: project, address: from, email });
    const unverified = `ivy-${s}@example.org`;
    const verified = `jon-${s}@example.org`;
    await m.request('POST', `/api/v1/projects/${project}/users`, { username: `ivy${s}`, password: 'ivy-password-1', email: unverified });
    await m.request('POST', `/api/v1/projects/${project}/users`, { username: `jon${s}`, password: 'jon-password-1', email: verified, emailVerified: true });
    const sentBefore = inbox.mails.length;
    for (const email of [`nobody-${s}@example.org`, verified, unverified]) expect(await resend(email)).toEqual({ outcome: 'accepted' });
    const mail = await mailTo(unverified);
    expect(mail.headers.get('subject')).toBe('Confirm your email address');
    expect(await ask({ action: 'verify-email', projectId: project, address: from, token: tokenOf(mail) })).toEqual({ outcome: 'done' });
    expect((await userOf(unverified))!.emailVerified).toBe(true);
    // Verified now: asking again sends nothing more.
    expect(await resend(unverified)).toEqual({ outcome: 'accepted' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(inbox.mails.slice(sentBefore).map((x) => x.to)).toEqual([[unverified]]);
    expect(await resend(`ivy-${s}@example.org\r\nBcc: victim@example.org`)).toEqual({ outcome: 'refused', code: 'invalid_email' });
  });

  it('answers 503 mail_not_configured (and refuses registration as unavailable) when SMTP_URL is not set, never a crash', async () => {
    const bare = await createTestDatabase('pglite');
    const plain = await startInProcessManager(bare);
    try {
      const p = (await plain.request('POST', '/api/v1/projects', { name: `ss-c-${s}` })).body.id;
      await plain.request('PUT', `/api/v1/projects/${p}/end-user-registration`, { selfRegistration: true });
      const user = (await plain.request('POST', `/api/v1/projects/${p}/users`, { username: `ivy${s}`, email: `ivy-${s}@example.org` })).body;
      const res = await plain.request('POST', `/api/v1/projects/${p}/users/${user.id}/verification-mail`);
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('mail_not_configured');
      const handler = plain.app.get(EndUserSelfServiceController);
      expect(await handler.handle({ action: 'register', projectId: p, address, email: `jo-${s}@example.org`, password: 'jo-password-1' })).toEqual({
        outcome: 'refused',
        code: 'mail_unavailable',
      });
      expect(await handler.handle({ action: 'request-reset', projectId: p, address, email: `ivy-${s}@example.org` })).toEqual({ outcome: 'refused', code: 'mail_unavailable' });
    } finally {
      await plain.close();
      await bare.drop();
    }
  });
});
