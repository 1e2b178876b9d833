import { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { findNulByte } from './nul-bytes';
import { ProblemError } from './problem.error';

/**
 * Validates a request body (or query string) with the same zod schema the OpenAPI document is
 * built from. NUL characters are refused here for every route, before any schema runs.
 */
export class ZodBodyPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new ProblemError(400, 'body_required', 'A JSON object body is required');
    }
    const nul = findNulByte(value);
    if (nul !== undefined) throw ProblemError.validation([{ path: nul, message: 'must not contain a NUL character (\\u0000)' }]);
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    throw ProblemError.validation(
      result.error.issues.map((issue) => ({
        path: [...issue.path, ...(issue.code === 'unrecognized_keys' ? [issue.keys.join(',')] : [])].join('.'),
        message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
      })),
    );
  }
}
