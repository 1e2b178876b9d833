import { snapshotCredentialSchema, snapshotProxySchema, type ConfigChangedMessage } from '@idm/config-bus';
import { z } from 'zod';

const changes = <T extends z.ZodType>(entity: T) => z.object({ upserted: z.array(entity), removed: z.array(z.string()) });

/**
 * A `config.changed` payload arrives from the network: it is validated before it can touch the
 * served configuration. One that fails is treated like a gap (full reload), never applied.
 */
export const configChangedMessageSchema: z.ZodType<ConfigChangedMessage> = z.object({
  environment: z.string(),
  revision: z.number().int().nonnegative(),
  previousRevision: z.number().int().nonnegative(),
  proxies: changes(snapshotProxySchema),
  credentials: changes(snapshotCredentialSchema),
});
