import { z } from 'zod';

/**
 * End users' own account actions on the OpenID Provider's pages: self-registration, email
 * verification and password reset. The Gateway serves the pages and checks their CSRF token; the
 * Manager decides, writes and sends the mail (request/reply over the bus, like
 * `end-users.provision`): the Gateway never writes the database and never holds a mail token
 * other than the one a browser just posted. `address` is the browser's (rate limits per address).
 */
export const END_USER_SELF_SERVICE = 'end-users.self-service';

/**
 * Redis set of the projects whose end users must have a verified email to sign in (the switch
 * `requireVerifiedEmail` of `/projects/{id}/end-user-registration`): the Manager rewrites it after
 * every change and when it connects; the Gateways' login page and password grants read it for a
 * user whose email is not verified.
 */
export const VERIFIED_EMAIL_PROJECTS_KEY = 'idm:end-users:verified-email-projects';

const common = {
  projectId: z.string().min(1).max(64),
  address: z.string().min(1).max(64),
};
/** Emails with CR/LF (header injection) never reach the Manager's logic: the schema refuses them. */
const email = z.string().min(1).max(254);
const token = z.string().min(1).max(256);
const password = z.string().max(1024);

export const endUserSelfServiceRequestSchema = z.discriminatedUnion('action', [
  /** Whether the project lets people register (the Gateway shows the page and the link only then). */
  z.object({ action: z.literal('status'), projectId: common.projectId }),
  z.object({ action: z.literal('register'), ...common, email, password }),
  z.object({ action: z.literal('request-reset'), ...common, email }),
  /** A new verification mail for the account with this address, if it still needs one (the answer is the same either way). */
  z.object({ action: z.literal('resend-verification'), ...common, email }),
  z.object({ action: z.literal('verify-email'), ...common, token }),
  z.object({ action: z.literal('reset-password'), ...common, token, password }),
]);
export type EndUserSelfServiceRequest = z.infer<typeof endUserSelfServiceRequestSchema>;

/**
 * `accepted`: the same answer whether or not an account exists for the email (no enumeration).
 * `done`: a token was consumed. `refused`: with a code the page turns into a message.
 * `rate_limited`: try again after `retryAfterSeconds`.
 */
export const endUserSelfServiceReplySchema = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('status'), selfRegistration: z.boolean() }),
  z.object({ outcome: z.literal('accepted') }),
  z.object({ outcome: z.literal('done') }),
  z.object({
    outcome: z.literal('refused'),
    code: z.enum(['registration_disabled', 'invalid_email', 'weak_password', 'invalid_token', 'mail_unavailable', 'invalid_request']),
  }),
  z.object({ outcome: z.literal('rate_limited'), retryAfterSeconds: z.number().int().min(1) }),
]);
export type EndUserSelfServiceReply = z.infer<typeof endUserSelfServiceReplySchema>;
