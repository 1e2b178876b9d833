import type { FastifyInstance } from 'fastify';
import { ProblemError } from './problem.error';

/**
 * Fastify's own JSON parser (with prototype-poisoning protection), but failing with a
 * ProblemError so a malformed body is answered as `malformed_json`, not a generic 400.
 */
export function installJsonBodyParser(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    void parse(request, body as string, (err: Error | null, value?: unknown) => {
      if (err) done(new ProblemError(400, 'malformed_json', 'Malformed JSON body', 'the body is not valid JSON'), undefined);
      else done(null, value);
    });
  });
}
