import { Controller, Get } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { Contract } from './contract.decorator';
import { buildOpenApiDocument, discoverRoutes, openApiDocumentSchema } from './openapi.document';

@Controller('api/v1')
export class OpenApiController {
  private document?: ReturnType<typeof buildOpenApiDocument>;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  @Get('openapi.json')
  @Contract({ summary: 'This OpenAPI document', public: true, response: openApiDocumentSchema })
  openapi() {
    this.document ??= buildOpenApiDocument(discoverRoutes(this.discovery, this.scanner));
    return this.document;
  }
}
