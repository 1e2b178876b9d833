import type { ConfigHead, GatewayPresence } from '@idm/config-bus';
import { z } from 'zod';

const SYNC_STATES = ['in_sync', 'behind', 'loading', 'other_epoch', 'unknown'] as const;

/** One Gateway of an environment as it last reported itself, compared with what is published. */
export const gatewayStatusSchema = z.object({
  id: z.string().describe('GATEWAY_ID, or host name and process id'),
  version: z.string().describe("the Gateway's release"),
  ready: z.boolean().describe('serving: a revision compiled and the revoked token list read (its /health/ready)'),
  revision: z.number().int().nullable().describe('the configuration revision it serves; null while it loads its first'),
  sync: z
    .enum(SYNC_STATES)
    .describe(
      '`in_sync`: serves the published revision; `behind`: an older one (see `behind`); `loading`: no revision yet; `other_epoch`: a revision of an earlier publication epoch (a fresh or restored database); `unknown`: nothing published to compare with',
    ),
  behind: z.number().int().nullable().describe('published revisions it has not applied yet (its config lag); null unless `sync` is `in_sync` or `behind`'),
  appliedAt: z.string().nullable().describe('when it started serving its revision (its last change applied)'),
  startedAt: z.string(),
  lastSeen: z.string().describe('its last report; a Gateway not heard from for three report intervals is no longer listed'),
  requestsPerSecond: z.number().describe('proxied requests answered per second between its last two reports'),
});
export type GatewayStatus = z.infer<typeof gatewayStatusSchema>;

export const environmentGatewaysSchema = z.object({
  environment: z.string(),
  publishedRevision: z.number().int().nullable().describe('the revision in Redis the Gateways converge to; null: nothing published yet'),
  gateways: z.array(gatewayStatusSchema),
});
export type EnvironmentGateways = z.infer<typeof environmentGatewaysSchema>;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A Gateway's report seen against the published head: in sync, how far behind, or why not comparable. */
export function gatewayStatus(presence: GatewayPresence, head: ConfigHead | null): GatewayStatus {
  let sync: GatewayStatus['sync'];
  let behind: number | null = null;
  if (presence.revision === null) sync = 'loading';
  else if (head === null) sync = 'unknown';
  else if (presence.epoch !== head.epoch) sync = 'other_epoch';
  else {
    behind = Math.max(0, head.revision - presence.revision);
    sync = behind === 0 ? 'in_sync' : 'behind';
  }
  return {
    id: presence.id,
    version: presence.version,
    ready: presence.ready,
    revision: presence.revision,
    sync,
    behind,
    appliedAt: iso(presence.appliedAt),
    startedAt: iso(presence.startedAt)!,
    lastSeen: iso(presence.reportedAt)!,
    requestsPerSecond: presence.requestsPerSecond,
  };
}
