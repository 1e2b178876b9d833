import { policySpecSchema } from '@idm/domain';
import { policySchemas } from '@idm/policies/schemas';
import { z } from 'zod';

/**
 * A proxy's policies pass the route's schema with any config and are then validated by the
 * policy schema registry, type by type (`validatePolicySpecs`); the document shows those
 * schemas, one alternative per policy type, so a client sees what each config takes.
 */
const registeredPolicySpec = z.union(Object.entries(policySchemas).map(([type, config]) => z.strictObject({ type: z.literal(type), config: config.optional() })));

/** Schemas checked after the route's own, by a registry the domain library cannot name. */
export const documentedByRegistry = new Map<object, z.ZodType>([[policySpecSchema, registeredPolicySpec]]);
