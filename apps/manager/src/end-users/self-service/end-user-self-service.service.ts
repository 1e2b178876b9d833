import type { EndUserSelfServiceReply, EndUserSelfServiceRequest } from '@idm/config-bus';
import { password as passwordSchema, SecretBox, username as usernameSchema } from '@idm/domain';
import { Injectable, Logger } from '@nestjs/common';
import { z } from 'zod';
import { ChangeWriter } from '../../audit/change-writer';
import { PasswordHasher } from '../../auth/password-hasher';
import { sealDigestHa1 } from '../../credentials/digest-ha1';
import { ActorContext, systemActor } from '../../governance/actor.context';
import { CredentialRepository, type CredentialRow } from '../../repositories/credential.repository';
import { EndUserRegistrationRepository } from '../../repositories/end-user-registration.repository';
import { EndUserMailer } from './end-user-mailer';
import { SelfServiceStore } from './self-service-store';
import { TOKEN_TTL_SECONDS } from './end-user-tokens';

/** An address as the login form takes it: one line, a valid email, and usable as the username. */
const emailSchema = z.email().max(254);
/** The audit diff's view, as EndUsersService's: the password hash is masked there, the sealed HA1 left out. */
const auditRow = ({ digestHa1: _, ...c }: CredentialRow) => c;
const ttlMinutes = (purpose: keyof typeof TOKEN_TTL_SECONDS) => TOKEN_TTL_SECONDS[purpose] / 60;

type Register = Extract<EndUserSelfServiceRequest, { action: 'register' }>;
type RequestReset = Extract<EndUserSelfServiceRequest, { action: 'request-reset' | 'resend-verification' }>;
type VerifyEmail = Extract<EndUserSelfServiceRequest, { action: 'verify-email' }>;
type ResetPassword = Extract<EndUserSelfServiceRequest, { action: 'reset-password' }>;

/**
 * The decisions behind the OpenID Provider's "Create account", "Forgot password" and the links of
 * their mails (docs/architecture.md, "End-user self-service"). Answers never tell whether an
 * account exists for an email: registering a taken address and asking a reset for an unknown one
 * answer `accepted` like the real thing (the hash and the send run either way or in the
 * background). Writes are audited as the system actor `self-service` and published like any
 * end-user change.
 */
@Injectable()
export class EndUserSelfService {
  private readonly log = new Logger('EndUserSelfService');

  constructor(
    private readonly changes: ChangeWriter,
    private readonly credentials: CredentialRepository,
    private readonly registration: EndUserRegistrationRepository,
    private readonly hasher: PasswordHasher,
    private readonly secrets: SecretBox,
    private readonly mailer: EndUserMailer,
    private readonly store: SelfServiceStore,
  ) {}

  async handle(request: EndUserSelfServiceRequest): Promise<EndUserSelfServiceReply> {
    switch (request.action) {
      case 'status':
        return { outcome: 'status', selfRegistration: await this.selfRegistrationOn(request.projectId) };
      case 'register':
        return this.register(request);
      case 'request-reset':
      case 'resend-verification':
        return this.requestReset(request);
      case 'verify-email':
        return this.verifyEmail(request);
      case 'reset-password':
        return this.resetPassword(request);
    }
  }

  async selfRegistrationOn(projectId: string): Promise<boolean> {
    if (!z.uuid().safeParse(projectId).success) return false;
    const row = await this.registration.find(projectId);
    return row?.settings.selfRegistration === true;
  }

  private async register(request: Register): Promise<EndUserSelfServiceReply> {
    if (!(await this.selfRegistrationOn(request.projectId))) return { outcome: 'refused', code: 'registration_disabled' };
    const email = emailSchema.safeParse(request.email);
    if (!email.success || !usernameSchema.safeParse(request.email).success) return { outcome: 'refused', code: 'invalid_email' };
    if (!passwordSchema.safeParse(request.password).success || request.password.toLowerCase() === request.email.toLowerCase()) return { outcome: 'refused', code: 'weak_password' };
    if (!this.mailer.configured) return { outcome: 'refused', code: 'mail_unavailable' };
    const retryAfter = await this.store.rateLimit.hit(request.projectId, request.address, request.email);
    if (retryAfter !== null) return { outcome: 'rate_limited', retryAfterSeconds: retryAfter };
    // Hashed before looking: a taken address costs the same time as a new one (no enumeration by timing).
    const passwordHash = await this.hasher.hash(request.password);
    const digestHa1 = sealDigestHa1(this.secrets, request.email, request.password);
    try {
      await ActorContext.run(systemActor('self-service'), () =>
        this.changes.write(async (tx) => {
          const taken =
            (await this.credentials.findByUsername(tx, request.projectId, request.email)) !== undefined ||
            (await this.credentials.endUserEmailTaken(tx, request.projectId, request.email, null));
          if (taken) return { result: undefined, change: null };
          const row = await this.credentials.insert(tx, {
            projectId: request.projectId,
            teamId: null,
            username: request.email,
            passwordHash,
            digestHa1,
            enabled: true,
            email: request.email,
            fullName: null,
            roles: [],
            endUser: { emailVerified: false, givenName: null, familyName: null, locale: null, pictureUrl: null, attributes: {}, locked: false },
          });
          // Sent inside the transaction: a mail the SMTP server refused rolls the account back (nothing half-written, the person may try again).
          const { token } = await this.store.tokens.issue({ purpose: 'verify-email', projectId: request.projectId, credentialId: row.id, email: request.email });
          if (!(await this.mailer.send('verify-email', request.email, request.projectId, token, ttlMinutes('verify-email')))) throw new MailNotSent();
          return {
            result: undefined,
            change: { action: 'register', entityKind: 'end_user', entityId: row.id, projectId: request.projectId, teamId: null, before: null, after: auditRow(row) },
          };
        }),
      );
    } catch (err) {
      if (err instanceof MailNotSent) return { outcome: 'refused', code: 'mail_unavailable' };
      // Two registrations of one address at once: the loser hits the unique index; it reads as taken.
      if (!isUniqueViolation(err)) throw err;
    }
    return { outcome: 'accepted' };
  }

  private async requestReset(request: RequestReset): Promise<EndUserSelfServiceReply> {
    if (!emailSchema.safeParse(request.email).success) return { outcome: 'refused', code: 'invalid_email' };
    if (!this.mailer.configured) return { outcome: 'refused', code: 'mail_unavailable' };
    const retryAfter = await this.store.rateLimit.hit(request.projectId, request.address, request.email);
    if (retryAfter !== null) return { outcome: 'rate_limited', retryAfterSeconds: retryAfter };
    // In the background: the answer takes the same time whether the account exists or not.
    const send = request.action === 'request-reset' ? this.sendReset(request.projectId, request.email) : this.resendVerification(request.projectId, request.email);
    void send.catch((err: unknown) => this.log.warn(`${request.action} mail failed: ${err instanceof Error ? err.message : String(err)}`));
    return { outcome: 'accepted' };
  }

  /** A new verification link for a local, enabled account with this address that is not verified yet; none otherwise (nothing to confirm, or a directory's user). */
  private async resendVerification(projectId: string, email: string): Promise<void> {
    if (!z.uuid().safeParse(projectId).success) return;
    const user = await this.registration.endUserByEmail(projectId, email);
    if (!user || !user.enabled || !user.email || !user.endUser || user.endUser.emailVerified || user.endUser.identitySourceId) return;
    await this.mail('verify-email', user);
  }

  /** A reset link for a local, enabled account with this address; none for unknown, disabled or directory-owned ones (their password is the directory's). */
  async sendReset(projectId: string, email: string): Promise<{ sentTo: string; expiresAt: Date } | null> {
    if (!z.uuid().safeParse(projectId).success) return null;
    const user = await this.registration.endUserByEmail(projectId, email);
    if (!user || !user.enabled || !user.email || user.endUser?.identitySourceId) return null;
    return this.mail('reset-password', user);
  }

  /** Issues a token for the user's current address and sends the mail; null when it could not be sent. */
  async mail(purpose: 'verify-email' | 'reset-password', user: CredentialRow): Promise<{ sentTo: string; expiresAt: Date } | null> {
    const { token, expiresAt } = await this.store.tokens.issue({ purpose, projectId: user.projectId, credentialId: user.id, email: user.email! });
    return (await this.mailer.send(purpose, user.email!, user.projectId, token, ttlMinutes(purpose))) ? { sentTo: user.email!, expiresAt } : null;
  }

  private async verifyEmail(request: VerifyEmail): Promise<EndUserSelfServiceReply> {
    const claim = await this.store.tokens.consume(request.token, 'verify-email', request.projectId);
    if (!claim) return { outcome: 'refused', code: 'invalid_token' };
    const done = await ActorContext.run(systemActor('self-service'), () =>
      this.changes.write(async (tx) => {
        const before = await this.credentials.find(claim.projectId, claim.credentialId, tx, true);
        // The address changed since the mail went out: the link confirmed the old one, not this.
        if (!before?.endUser || before.email?.toLowerCase() !== claim.email.toLowerCase()) return { result: false, change: null };
        const row = await this.credentials.update(tx, before.id, { endUser: { ...before.endUser, emailVerified: true }, updatedAt: new Date() });
        return {
          result: true,
          change: {
            action: 'verify_email',
            entityKind: 'end_user',
            entityId: row.id,
            projectId: row.projectId,
            teamId: row.teamId,
            before: auditRow(before),
            after: auditRow(row),
          },
        };
      }),
    );
    return done ? { outcome: 'done' } : { outcome: 'refused', code: 'invalid_token' };
  }

  private async resetPassword(request: ResetPassword): Promise<EndUserSelfServiceReply> {
    // The policy first: a too-short password does not use up the link.
    if (!passwordSchema.safeParse(request.password).success) return { outcome: 'refused', code: 'weak_password' };
    const claim = await this.store.tokens.consume(request.token, 'reset-password', request.projectId);
    if (!claim) return { outcome: 'refused', code: 'invalid_token' };
    const passwordHash = await this.hasher.hash(request.password);
    const done = await ActorContext.run(systemActor('self-service'), () =>
      this.changes.write(async (tx) => {
        const before = await this.credentials.find(claim.projectId, claim.credentialId, tx, true);
        if (!before?.endUser || !before.enabled || before.endUser.identitySourceId || before.email?.toLowerCase() !== claim.email.toLowerCase())
          return { result: false, change: null };
        const row = await this.credentials.update(tx, before.id, {
          passwordHash,
          digestHa1: sealDigestHa1(this.secrets, before.username, request.password),
          // Opening the link proved the mailbox is the user's.
          endUser: { ...before.endUser, emailVerified: true },
          updatedAt: new Date(),
        });
        return {
          result: true,
          change: {
            action: 'reset_password',
            entityKind: 'end_user',
            entityId: row.id,
            projectId: row.projectId,
            teamId: row.teamId,
            before: auditRow(before),
            after: auditRow(row),
          },
        };
      }),
    );
    return done ? { outcome: 'done' } : { outcome: 'refused', code: 'invalid_token' };
  }
}

class MailNotSent extends Error {}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code === '23505' || e?.cause?.code === '23505';
}
