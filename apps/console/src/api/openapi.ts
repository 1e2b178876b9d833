import { useQuery } from '@tanstack/react-query';
import { api } from './client';

type Schema = Record<string, unknown>;
interface OpenApiDocument {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> } }>>;
}

/**
 * The JSON Schema of a request body as the Manager's own OpenAPI document states it (the zod
 * schema it validates with), so a console form is generated from the contract and cannot drift
 * from it. `pointer` picks a part: `['access']`, or `['anyOf', 1, 'properties', 'config']`.
 */
export function useRequestSchema(method: string, path: string, pointer: (string | number)[] = []): { schema: Schema | undefined; error: unknown } {
  const document = useQuery({ queryKey: ['openapi'], queryFn: () => api<OpenApiDocument>('GET', '/openapi.json'), staleTime: Infinity });
  const body = document.data?.paths[path]?.[method.toLowerCase()]?.requestBody?.content?.['application/json']?.schema;
  let schema: unknown = body;
  for (const step of pointer) schema = schema && typeof schema === 'object' ? (schema as Record<string | number, unknown>)[step] : undefined;
  return { schema: schema as Schema | undefined, error: document.error };
}
