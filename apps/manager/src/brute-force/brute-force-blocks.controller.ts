import { Controller, Delete, Get, Param } from '@nestjs/common';
import { z } from 'zod';
import { Contract } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { ProblemError } from '../problems/problem.error';
import { blockIdSchema, bruteForceBlockViewSchema } from './brute-force-block.schema';
import { BruteForceBlocksService } from './brute-force-blocks.service';

/** An environment's brute-force blocks: who the Gateways refuse after too many failed authentications, and the way to lift one early. */
@Controller('api/v1/environments/:environmentId/blocks')
export class BruteForceBlocksController {
  constructor(private readonly blocks: BruteForceBlocksService) {}

  @Get()
  @Contract({ summary: "List the environment's brute-force blocks in force (those the actor may read)", response: z.array(bruteForceBlockViewSchema) })
  list(@Param('environmentId', IdPipe) environmentId: string) {
    return this.blocks.list(environmentId);
  }

  @Delete(':blockId')
  @Contract({ summary: 'Lift a brute-force block on every Gateway at once (its failure count and strikes are forgiven too)', status: 204, pathParams: { blockId: blockIdSchema } })
  async lift(@Param('environmentId', IdPipe) environmentId: string, @Param('blockId') blockId: string): Promise<void> {
    if (!blockIdSchema.safeParse(blockId).success) throw new ProblemError(400, 'invalid_id', 'Invalid id', `'${blockId.slice(0, 64)}' is not a block id`);
    await this.blocks.lift(environmentId, blockId);
  }
}
