import type { TokenPersistJob } from '@idm/config-bus';

/** The key of a revocation: one token by its hash, or every token of a refresh family. */
export const tokenSubject = (tokenHash: string): string => `token:${tokenHash}`;
export const familySubject = (familyId: string): string => `family:${familyId}`;

export function revocationSubject(job: Extract<TokenPersistJob, { op: 'revoke' | 'revoke-family' }>): string {
  return job.op === 'revoke' ? tokenSubject(job.tokenHash) : familySubject(job.familyId);
}

/** The revocations that would cover a stored copy. */
export function subjectsOf(copy: { tokenHash: string; familyId: string | null }): string[] {
  return copy.familyId === null ? [tokenSubject(copy.tokenHash)] : [tokenSubject(copy.tokenHash), familySubject(copy.familyId)];
}
