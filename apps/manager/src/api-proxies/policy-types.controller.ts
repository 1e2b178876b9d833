import { Controller, Get } from '@nestjs/common';
import { policyJsonSchemas, type PolicyTypeDocument } from '@idm/policies/schemas';
import { z } from 'zod';
import { Contract } from '../openapi/contract.decorator';

const policyTypeSchema = z.object({ type: z.string(), schema: z.record(z.string(), z.unknown()) });

/**
 * Every policy type this Manager accepts in a proxy's chain, with its config as JSON Schema. The
 * console generates each policy's form from it, so a new policy folder gets its screen without
 * console code.
 */
@Controller('api/v1/policy-types')
export class PolicyTypesController {
  private documents?: PolicyTypeDocument[];

  @Get()
  @Contract({ summary: 'The policy types a proxy chain may hold, each with its config JSON Schema (draft-07)', response: z.array(policyTypeSchema) })
  list(): PolicyTypeDocument[] {
    this.documents ??= policyJsonSchemas();
    return this.documents;
  }
}
