import { snapshotCredentialSchema, snapshotProxySchema, snapshotSigningKeySchema, type ConfigChangedMessage } from '@idm/config-bus';
import { z } from 'zod';

const changes = <T extends z.ZodType>(entity: T) => z.strictObject({ upserted: z.array(entity), removed: z.array(z.string()) });

/**
 * A `config.changed` payload arrives from the network: it is validated before it can touch the
 * served configuration. Strict on purpose: a field this Gateway does not know would be lost if
 * it were stripped and the rest applied, so such a message (like any that fails) is treated as
 * a gap and the whole snapshot is reloaded instead, where the schema version decides.
 */
export const configChangedMessageSchema: z.ZodType<ConfigChangedMessage> = z.strictObject({
  environment: z.string(),
  epoch: z.string().min(1),
  revision: z.number().int().nonnegative(),
  previousRevision: z.number().int().nonnegative(),
  proxies: changes(snapshotProxySchema),
  credentials: changes(snapshotCredentialSchema),
  signingKeys: z.array(snapshotSigningKeySchema).optional(),
});
