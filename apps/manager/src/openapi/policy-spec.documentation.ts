import { policySpecSchema } from '@idm/domain';
import { policyRegistry } from '@idm/policies';
import { z } from 'zod';

/**
 * A proxy's policies pass the route's schema with any config and are then validated by the
 * policy registry, type by type (`validatePolicySpecs`); the document shows those schemas, one
 * alternative per policy type, so a client sees what each config takes.
 */
const registeredPolicySpec = z.union(
  [...policyRegistry.values()].map((definition) => z.strictObject({ type: z.literal(definition.type), config: (definition.schema as z.ZodType).optional() })),
);

/** Schemas checked after the route's own, by a registry the domain library cannot name. */
export const documentedByRegistry = new Map<object, z.ZodType>([[policySpecSchema, registeredPolicySpec]]);
