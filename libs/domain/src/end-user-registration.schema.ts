import { z } from 'zod';

/**
 * A project's end-user self-service settings. Off (or absent): nobody registers through the
 * OpenID Provider's pages; email verification and password reset links work either way (they
 * only act on accounts that exist).
 */
export const endUserRegistrationSettingsSchema = z.strictObject({
  selfRegistration: z.boolean().describe('whether people may create their own end-user account on the login page ("Create account")'),
  requireVerifiedEmail: z
    .boolean()
    .default(false)
    .describe(
      'whether an end user must have confirmed their email address to sign in: the login page then refuses an unconfirmed one (offering a new verification mail) and the password grants answer invalid_grant (email_not_verified); left out: false',
    ),
});
export type EndUserRegistrationSettings = z.output<typeof endUserRegistrationSettingsSchema>;

/** What an operator's "send a mail to this user" answers: to whom (the user's address) and until when the link works. */
export const endUserMailSentSchema = z.object({
  sentTo: z.string(),
  expiresAt: z.string(),
});
export type EndUserMailSent = z.infer<typeof endUserMailSentSchema>;
