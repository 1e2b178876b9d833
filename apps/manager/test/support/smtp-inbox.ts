import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The raw message (headers and body) as the server received it. */
  raw: string;
  /** The headers, folded lines joined, names lower-cased. */
  headers: Map<string, string>;
  /** The body, quoted-printable decoded. */
  text: string;
}

/** RFC 2045 quoted-printable: soft line breaks removed, `=XX` bytes decoded. */
function decodeQuotedPrintable(body: string): string {
  const joined = body.replace(/=\r?\n/g, '');
  return Buffer.from(
    joined.replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
}

function parse(raw: string, from: string, to: string[]): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const body = raw.slice(split + 4);
  const text = /quoted-printable/i.test(headers.get('content-transfer-encoding') ?? '') ? decodeQuotedPrintable(body) : body;
  return { from, to, raw, headers, text };
}

/**
 * A real SMTP server (the `smtp-server` library) on a free loopback port: what the Manager's
 * nodemailer sends arrives here. `refuse` makes it reject recipients (an SMTP outage as the
 * sender sees it).
 */
export class SmtpInbox {
  readonly mails: ReceivedMail[] = [];
  /** Recipients the server refuses (550), e.g. to prove a failed send leaves nothing half-written. */
  readonly refuse = new Set<string>();

  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
  ) {}

  static async start(): Promise<SmtpInbox> {
    let inbox: SmtpInbox | null = null;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        if (inbox?.refuse.has(address.address.toLowerCase())) return callback(new Error('550 mailbox unavailable'));
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          inbox!.mails.push(
            parse(
              Buffer.concat(chunks).toString('utf8'),
              from,
              session.envelope.rcptTo.map((r) => r.address),
            ),
          );
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    inbox = new SmtpInbox(server, (server.server.address() as AddressInfo).port);
    return inbox;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** The mails sent to this address so far. */
  to(address: string): ReceivedMail[] {
    return this.mails.filter((m) => m.to.some((t) => t.toLowerCase() === address.toLowerCase()));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The link of a mail (the Gateway page with `project` and `token`), parsed. */
export function linkOf(mail: ReceivedMail): URL {
  const match = /https?:\/\/\S+\?project=[^\s&]+&token=[A-Za-z0-9_-]+/.exec(mail.text);
  if (!match) throw new Error(`no link in the mail:\n${mail.text}`);
  return new URL(match[0]);
}
