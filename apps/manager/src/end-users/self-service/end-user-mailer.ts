import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import { MANAGER_CONFIG, type ManagerConfig } from '../../config/manager-config';

export type EndUserMailKind = 'verify-email' | 'reset-password';

/** One line, no CR/LF anywhere (a header injected through an address or a name is refused before nodemailer sees it). */
const oneLine = (value: string) => !/[\r\n]/.test(value);

/**
 * Sends end users' mails through SMTP_URL (nodemailer). A mail carries the link to the Gateway
 * page that consumes the token, never a password. Unconfigured (no SMTP_URL or
 * END_USER_PAGES_URL): `configured` is false and callers answer 503, never send.
 */
@Injectable()
export class EndUserMailer implements OnApplicationShutdown {
  private readonly log = new Logger('EndUserMailer');
  private readonly transport: Transporter | null;
  private readonly pagesUrl: string | null;

  constructor(@Inject(MANAGER_CONFIG) private readonly config: ManagerConfig) {
    this.transport = config.SMTP_URL
      ? // Short timeouts: registration sends inside its transaction, a hanging SMTP server must not hold it for minutes.
        createTransport({ ...parseConnectionUrl(config.SMTP_URL), connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 })
      : null;
    this.pagesUrl = config.END_USER_PAGES_URL ? config.END_USER_PAGES_URL.replace(/\/+$/, '') : null;
  }

  get configured(): boolean {
    return this.transport !== null && this.pagesUrl !== null;
  }

  /** The link the mail carries: the Gateway's page, with the project (whose Manager-side token it is) and the token in its query. */
  linkFor(kind: EndUserMailKind, projectId: string, token: string): string {
    return `${this.pagesUrl}/${kind}?project=${encodeURIComponent(projectId)}&token=${encodeURIComponent(token)}`;
  }

  /** False when the SMTP server refused or could not be reached (logged without the link: it is a credential). */
  async send(kind: EndUserMailKind, to: string, projectId: string, token: string, ttlMinutes: number): Promise<boolean> {
    if (!this.transport || !oneLine(to)) return false;
    const link = this.linkFor(kind, projectId, token);
    const expiry = ttlMinutes >= 120 ? `${Math.round(ttlMinutes / 60)} hours` : `${ttlMinutes} minutes`;
    const text =
      kind === 'verify-email'
        ? `Please confirm your email address by opening this link:\n\n${link}\n\nThe link works once and expires in ${expiry}. If you did not create an account, ignore this mail.\n`
        : `Someone asked to reset the password of your account. Choose a new password here:\n\n${link}\n\nThe link works once and expires in ${expiry}. If it was not you, ignore this mail: your password stays as it is.\n`;
    try {
      await this.transport.sendMail({
        from: this.config.SMTP_FROM,
        to,
        subject: kind === 'verify-email' ? 'Confirm your email address' : 'Reset your password',
        text,
        // Mail clients should not prefetch the link (a prefetch would consume a verification token).
        headers: { 'auto-submitted': 'auto-generated' },
      });
      return true;
    } catch (err) {
      this.log.warn(`${kind} mail not sent: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  onApplicationShutdown(): void {
    this.transport?.close();
  }
}
