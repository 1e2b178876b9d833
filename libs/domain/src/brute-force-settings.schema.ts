import { z } from 'zod';

/**
 * A project's brute-force settings: overrides of the environment's detectors (the Gateways'
 * BRUTE_FORCE_* variables) for failures against the project's credentials; a field left out
 * keeps the environment's value. No per-address threshold: an address tries the credentials of
 * every project, so it stays the environment's. Published to the Gateways by @idm/config-bus.
 */
const seconds = (max: number) => z.number().int().min(1).max(max);
export const projectBruteForceSettingsSchema = z
  .strictObject({
    perCredential: z.number().int().min(0).max(1_000_000).optional().describe('failures per credential (from any address) per window; 0 turns the detector off'),
    perCredentialAddress: z.number().int().min(0).max(1_000_000).optional().describe('failures per credential from one address per window; 0 turns the detector off'),
    windowSeconds: seconds(86_400).optional().describe('how long failures are counted'),
    lockoutSeconds: seconds(86_400).optional().describe('the first lockout; each repeat within the strike memory doubles it'),
    maxLockoutSeconds: seconds(30 * 86_400)
      .optional()
      .describe('the longest lockout'),
    strikeMemorySeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .optional()
      .describe('how long after a lockout the next one still counts as a repeat'),
  })
  .refine((s) => s.lockoutSeconds === undefined || s.maxLockoutSeconds === undefined || s.lockoutSeconds <= s.maxLockoutSeconds, {
    message: 'must not exceed maxLockoutSeconds',
    path: ['lockoutSeconds'],
  });
export type ProjectBruteForceSettings = z.infer<typeof projectBruteForceSettingsSchema>;
