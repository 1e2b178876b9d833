import { BRUTE_FORCE_DETECTORS, type BruteForceBlock } from '@idm/config-bus';
import { z } from 'zod';

/** A brute-force block as admins see it (`GET /environments/{id}/blocks`); what the Gateways store, times as ISO strings. */
export const bruteForceBlockViewSchema = z.object({
  id: z.string(),
  detector: z.enum(BRUTE_FORCE_DETECTORS),
  credential: z.string().nullable().describe('username (proxy policies), `client:<id>` or `owner:<client id>:<username>` (token endpoints); null for an address block'),
  projectId: z.string().nullable().describe("the guessed credential's project (proxy policies); null: visible at system scope only"),
  address: z.string().nullable(),
  source: z.string().describe('`proxy`, or the token surface (`credential`, `auth`) of the failure that started the block'),
  failures: z.number().int(),
  strike: z.number().int().describe('1 for a first block; each repeat within the strike memory doubles the lockout'),
  blockedAt: z.string(),
  until: z.string(),
});
export type BruteForceBlockView = z.infer<typeof bruteForceBlockViewSchema>;

export const blockIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export function blockView(block: BruteForceBlock): BruteForceBlockView {
  return {
    id: block.id,
    detector: block.detector,
    credential: block.credential,
    projectId: block.projectId,
    address: block.address,
    source: block.source,
    failures: block.failures,
    strike: block.strike,
    blockedAt: new Date(block.blockedAt).toISOString(),
    until: new Date(block.until).toISOString(),
  };
}
