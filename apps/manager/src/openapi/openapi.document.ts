import { RequestMethod } from '@nestjs/common';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import type { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { z } from 'zod';
import { CONTRACT, type RouteContract } from './contract.decorator';

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
    const { instance, metatype } = wrapper;
    if (!instance || !metatype) continue;
    const base = String(Reflect.getMetadata(PATH_METADATA, metatype) ?? '');
    for (const name of scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
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

/** OpenAPI 3.1 built from the same zod schemas that validate the requests. */
export function buildOpenApiDocument(routes: RouteInfo[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, path, contract } of routes) {
    const openApiPath = path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters = [...path.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => ({ name, in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }));
    if (contract.query) {
      const shape = z.toJSONSchema(contract.query, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(shape.properties ?? {})) parameters.push({ name, in: 'query', required: shape.required?.includes(name) ?? false, schema: schema as never });
    }
    const status = String(contract.status ?? (method === 'post' ? 201 : 200));
    paths[openApiPath] ??= {};
    paths[openApiPath][method] = {
      summary: contract.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(contract.public ? { security: [] } : {}),
      ...(contract.readOnly ? { 'x-read-only': true } : {}),
      ...(contract.body ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(contract.body, { io: 'input', unrepresentable: 'any' }) } } } } : {}),
      responses: {
        [status]: { description: 'Success' },
        default: { description: 'Error', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Identity Manager admin API', version: '1' },
    paths,
    components: {
      securitySchemes: { operatorSession: { type: 'http', scheme: 'bearer', description: 'token from POST /api/v1/auth/login' } },
      schemas: { Problem: problemSchema },
    },
    security: [{ operatorSession: [] }],
  };
}
