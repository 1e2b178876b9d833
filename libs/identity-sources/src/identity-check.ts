/**
 * What an identity source answers for a username and password. `rejected` covers an unknown
 * user and a wrong password alike (the caller must not learn which); a source that cannot
 * answer (down, slow, misconfigured, garbage) throws {@link SourceUnavailableError} instead,
 * which never counts as a success.
 */
export interface SourceIdentity {
  username: string;
  email: string | null;
  displayName: string | null;
  groups: string[];
}

export type SourceAnswer = { outcome: 'verified'; identity: SourceIdentity } | { outcome: 'rejected' };

export const SOURCE_FAILURE_CODES = ['source_unavailable', 'source_timeout', 'source_misconfigured'] as const;
export type SourceFailureCode = (typeof SOURCE_FAILURE_CODES)[number];

/** The message is for operators' logs: it names the step, never the password. */
export class SourceUnavailableError extends Error {
  constructor(
    readonly code: SourceFailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'SourceUnavailableError';
  }
}

/** One configured source, ready to check passwords. */
export interface IdentityChecker {
  check(username: string, password: string): Promise<SourceAnswer>;
  close(): Promise<void>;
}

/**
 * Input no source ever sees: empty or oversized values, control characters. An empty password
 * matters most: an LDAP simple bind with a DN and no password is an "unauthenticated bind"
 * (RFC 4513 5.1.2) that many servers answer with success.
 */
export function acceptableCredentials(username: string, password: string): boolean {
  return username.length > 0 && username.length <= 256 && password.length > 0 && password.length <= 1024 && !/[\u0000-\u001f\u007f]/.test(username);
}

/** Races a step against the source's timeout, so a hung server becomes `source_timeout`, never a hang. */
export async function withinTimeout<T>(step: string, timeoutMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SourceUnavailableError('source_timeout', `${step} took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
