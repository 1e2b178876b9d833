import type { z } from 'zod';

/**
 * Why a message was refused on receipt, for one log line: paths and zod's messages only, never
 * the payload (token messages carry token hashes and grants).
 */
export function refusalReason(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`)
    .join('; ');
}
