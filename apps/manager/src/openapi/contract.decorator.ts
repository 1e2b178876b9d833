import { applyDecorators, createParamDecorator, ExecutionContext, HttpCode, SetMetadata } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { z } from 'zod';
import { ZodBodyPipe } from '../problems/zod-body.pipe';

export interface RouteContract {
  summary: string;
  /** Request body schema: validates the body and documents it. */
  body?: z.ZodType;
  /** A body posted by an HTML form (application/x-www-form-urlencoded), not JSON: its fields, documented; the handler reads them. */
  form?: z.ZodObject;
  /** Path parameters that are not UUIDs (the default every `:…Id` is documented and checked as): their schemas. */
  pathParams?: Record<string, z.ZodString>;
  /** Query-string schema: validates and documents the query parameters. */
  query?: z.ZodObject;
  /** Success body as JSON: the schema of what the service returns (documented, checked by the conformance test). */
  response?: z.ZodType;
  /** A success body that is not JSON (metrics, SSE, YAML): its media type, documented as a string. */
  produces?: string;
  /** Success status (default 200, 201 for creations where set). */
  status?: number;
  /** Other statuses answered with the success body (readiness: 503 when a dependency is down). */
  sameBodyStatuses?: number[];
  /** A POST that changes nothing (e.g. APIops plan); documented as `x-read-only`. */
  readOnly?: boolean;
  /** Reachable without an operator session (login, health, the OpenAPI document). */
  public?: boolean;
  /** Bytes of body this route accepts when it needs more than MANAGER_BODY_LIMIT (bulk import). */
  bodyLimit?: number;
}

export const CONTRACT = Symbol('route-contract');

/** Fastify route config of public routes: the early authentication hook lets them pass. */
export interface ContractRouteConfig {
  public?: boolean;
  bodyLimit?: number;
  /** The form body parser serves this route only. */
  form?: boolean;
}

/**
 * Declares a route's contract once; the OpenAPI document, body validation and authentication
 * (public routes are marked in Fastify's route config, read before the body is parsed) all read it.
 */
export const Contract = (contract: RouteContract) =>
  applyDecorators(
    SetMetadata(CONTRACT, contract),
    ...(contract.status ? [HttpCode(contract.status)] : []),
    ...(contract.public || contract.bodyLimit || contract.form
      ? [RouteConfig({ public: contract.public, bodyLimit: contract.bodyLimit, form: contract.form !== undefined } satisfies ContractRouteConfig)]
      : []),
  );

/** The request body, validated by the schema named in the handler's @Contract. */
export const ContractBody = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const contract = Reflect.getMetadata(CONTRACT, ctx.getHandler()) as RouteContract | undefined;
  if (!contract?.body) throw new Error(`@ContractBody used on ${ctx.getHandler().name} without a body schema in @Contract`);
  return new ZodBodyPipe(contract.body).transform(ctx.switchToHttp().getRequest<{ body: unknown }>().body);
});

/** The query string, validated by the schema named in the handler's @Contract. */
export const ContractQuery = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const contract = Reflect.getMetadata(CONTRACT, ctx.getHandler()) as RouteContract | undefined;
  if (!contract?.query) throw new Error(`@ContractQuery used on ${ctx.getHandler().name} without a query schema in @Contract`);
  return new ZodBodyPipe(contract.query).transform(ctx.switchToHttp().getRequest<{ query: unknown }>().query ?? {});
});
