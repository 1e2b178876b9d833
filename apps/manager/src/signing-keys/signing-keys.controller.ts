import { Controller, Get, Param, Post } from '@nestjs/common';
import { createSigningKeySchema, rotateSigningKeySchema, signingKeyInfoSchema, type CreateSigningKey, type RotateSigningKey } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { SigningKeysService } from './signing-keys.service';

@Controller('api/v1/environments/:environmentId/signing-keys')
export class SigningKeysController {
  constructor(private readonly keys: SigningKeysService) {}

  @Get()
  @Contract({ summary: "List an environment's signing keys (public parts only)", response: z.array(signingKeyInfoSchema) })
  list(@Param('environmentId', IdPipe) environmentId: string) {
    return this.keys.list(environmentId);
  }

  @Post()
  @Contract({ summary: "Generate (RSA-2048 by default) or import the environment's first signing key", body: createSigningKeySchema, status: 201, response: signingKeyInfoSchema })
  create(@Param('environmentId', IdPipe) environmentId: string, @ContractBody() body: CreateSigningKey) {
    return this.keys.create(environmentId, body);
  }

  @Post('rotate')
  @Contract({
    summary:
      'Rotate: publish a new key, let it sign after the activation delay, keep the old one published (verification only) until its tokens expire; compromised: retire the old one at once',
    body: rotateSigningKeySchema,
    status: 201,
    response: signingKeyInfoSchema,
  })
  rotate(@Param('environmentId', IdPipe) environmentId: string, @ContractBody() body: RotateSigningKey) {
    return this.keys.rotate(environmentId, body);
  }
}
