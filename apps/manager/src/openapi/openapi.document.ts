import { RequestMethod } from '@nestjs/common';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import type { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { documentingSchema } from '@idm/domain';
import { z } from 'zod';
import { CONTRACT, type RouteContract } from './contract.decorator';
import { documentedByRegistry } from './policy-spec.documentation';

export interface RouteInfo {
  method: string;
  path: string;
  contract: RouteContract;
}

const problemSchema = {
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', description: 'stable reason code' },
    detail: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
    requestId: { type: 'string' },
  },
  required: ['type', 'title', 'status', 'code'],
};

/** Every route that carries a @Contract, found through Nest's own metadata (so none is missed). */
export function discoverRoutes(discovery: DiscoveryService, scanner: MetadataScanner): RouteInfo[] {
  const routes: RouteInfo[] = [];
  for (const wrapper of discovery.getControllers()) {
    const instance = wrapper.instance as object | undefined;
    const metatype = wrapper.metatype;
    if (!instance || !metatype) continue;
    const base = String(Reflect.getMetadata(PATH_METADATA, metatype) ?? '');
    for (const name of scanner.getAllMethodNames(Object.getPrototypeOf(instance) as object | null)) {
      const handler = (instance as Record<string, unknown>)[name] as object;
      const contract = Reflect.getMetadata(CONTRACT, handler) as RouteContract | undefined;
      if (!contract) continue;
      const sub = String(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
      const path = ('/' + [base, sub].filter((p) => p && p !== '/').join('/')).replace(/\/+/g, '/');
      routes.push({ method: RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number].toLowerCase(), path, contract });
    }
  }
  return routes;
}

/** The document's own outline (its details are the OpenAPI 3.1 specification's). */
export const openApiDocumentSchema = z.looseObject({
  openapi: z.literal('3.1.0'),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  servers: z.array(z.looseObject({ url: z.string() })),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
});

/**
 * JSON Schema of a request (`input`: defaults make fields optional) or a response (`output`:
 * every field the service always sets is required, and unknown ones are refused).
 */
function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _, ...converted } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      const documenting = documentingSchema(zodSchema) ?? documentedByRegistry.get(zodSchema);
      if (documenting) Object.assign(jsonSchema, toJsonSchema(documenting, io));
    },
  });
  return converted;
}

function successResponse(contract: RouteContract): Record<string, unknown> {
  const content = {
    ...(contract.response ? { 'application/json': { schema: toJsonSchema(contract.response, 'output') } } : {}),
    ...(contract.produces ? { [contract.produces]: { schema: { type: 'string' } } } : {}),
  };
  return Object.keys(content).length ? { description: 'Success', content } : { description: 'Success, no content' };
}

/** OpenAPI 3.1 built from the same zod schemas that validate the requests and type the responses. */
export function buildOpenApiDocument(routes: RouteInfo[]): z.infer<typeof openApiDocumentSchema> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, path, contract } of routes) {
    const openApiPath = path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters = [...path.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => {
      const own = contract.pathParams?.[name];
      return { name, in: 'path', required: true, schema: own ? (toJsonSchema(own, 'input') as never) : { type: 'string', format: 'uuid' } };
    });
    if (contract.query) {
      const shape = toJsonSchema(contract.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(shape.properties ?? {}))
        parameters.push({ name, in: 'query', required: shape.required?.includes(name) ?? false, schema: schema as never });
    }
    const status = String(contract.status ?? (method === 'post' ? 201 : 200));
    paths[openApiPath] ??= {};
    paths[openApiPath][method] = {
      summary: contract.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(contract.public ? { security: [] } : {}),
      ...(contract.readOnly ? { 'x-read-only': true } : {}),
      ...(contract.body ? { requestBody: { required: true, content: { 'application/json': { schema: toJsonSchema(contract.body, 'input') } } } } : {}),
      ...(contract.form ? { requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: toJsonSchema(contract.form, 'input') } } } } : {}),
      responses: {
        [status]: successResponse(contract),
        ...Object.fromEntries((contract.sameBodyStatuses ?? []).map((other) => [String(other), { ...successResponse(contract), description: 'Same body, another status' }])),
        default: { description: 'Error', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Identity Manager admin API', version: '1' },
    // Relative: the document is served by the Manager it describes, whatever its address.
    servers: [{ url: '/', description: 'the Manager serving this document' }],
    paths,
    components: {
      securitySchemes: { operatorSession: { type: 'http', scheme: 'bearer', description: 'token from POST /api/v1/auth/login' } },
      schemas: { Problem: problemSchema },
    },
    security: [{ operatorSession: [] }],
  };
}
