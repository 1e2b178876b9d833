import type { FastifyInstance } from 'fastify';
import type { ContractRouteConfig } from '../openapi/contract.decorator';
import { ProblemError } from './problem.error';

/**
 * An HTML form's body (application/x-www-form-urlencoded) as URLSearchParams, for the routes
 * whose @Contract declares a `form` (a SAML IdP's auto-posting form to the ACS) and no other: the
 * admin API stays JSON-only, so a cross-site form can never post a body any other route reads.
 */
export function installFormBodyParser(fastify: FastifyInstance): void {
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    if (!(request.routeOptions.config as ContractRouteConfig | undefined)?.form)
      return done(new ProblemError(415, 'unsupported_media_type', 'Unsupported media type; send application/json', 'this route takes a JSON body'), undefined);
    done(null, new URLSearchParams(body as string));
  });
}
