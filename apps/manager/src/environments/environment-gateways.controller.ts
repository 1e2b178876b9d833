import { Controller, Get, Param } from '@nestjs/common';
import { Contract } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { environmentGatewaysSchema } from './environment-gateways.schema';
import { EnvironmentGatewaysService } from './environment-gateways.service';

/** The Gateways serving an environment, as they report themselves every few seconds. */
@Controller('api/v1/environments/:environmentId/gateways')
export class EnvironmentGatewaysController {
  constructor(private readonly gateways: EnvironmentGatewaysService) {}

  @Get()
  @Contract({
    summary: "List the environment's live Gateways: revision served against the published one, ready, last seen (a Gateway silent for three report intervals is gone)",
    response: environmentGatewaysSchema,
  })
  list(@Param('environmentId', IdPipe) environmentId: string) {
    return this.gateways.list(environmentId);
  }
}
