import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problemFromDatabaseError } from './database-errors';
import { ProblemError } from './problem.error';

/** Nest turns Fastify's client errors into HttpExceptions by status; these keep a stable code. */
const HTTP_STATUS_CODES: Record<number, { code: string; title: string }> = {
  400: { code: 'bad_request', title: 'Bad request' },
  404: { code: 'route_not_found', title: 'Not found' },
  405: { code: 'method_not_allowed', title: 'Method not allowed' },
  413: { code: 'payload_too_large', title: 'Request body too large' },
  415: { code: 'unsupported_media_type', title: 'Unsupported media type; send application/json' },
};

/** Turns anything thrown into RFC 9457 problem+json; unknown errors become a bare 500 (logged, never echoed). */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const problem = this.toProblem(error);
    for (const [name, value] of Object.entries(problem.headers ?? {})) reply.header(name, value);
    reply
      .status(problem.status)
      .header('content-type', 'application/problem+json')
      .send({
        type: `https://identity-manager.dev/problems/${problem.code}`,
        title: problem.title,
        status: problem.status,
        code: problem.code,
        ...(problem.detail ? { detail: problem.detail } : {}),
        ...(problem.errors ? { errors: problem.errors } : {}),
        ...problem.extensions,
        instance: request.url.split('?')[0],
        requestId: request.id,
      });
  }

  private toProblem(error: unknown): ProblemError {
    if (error instanceof ProblemError) return error;
    const fromDb = problemFromDatabaseError(error);
    if (fromDb) return fromDb;
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const known = HTTP_STATUS_CODES[status];
      if (known) return new ProblemError(status, known.code, known.title);
      if (status < 500) return new ProblemError(status, 'http_error', error.message);
    }
    this.logger.error({ err: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error) }, 'unhandled error');
    return new ProblemError(500, 'internal_error', 'Internal error', 'the request failed; see the server log for this requestId');
  }
}
