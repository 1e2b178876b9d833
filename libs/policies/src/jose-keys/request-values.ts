import type { RequestContext } from '../policy';
import type { PayloadSource, PayloadTarget } from './schema';

/** A compiled `requestTemplate`: literal parts and lookups, resolved per request without parsing. */
export type CompiledTemplate = (ctx: RequestContext) => string;

const lookups: Record<string, (ctx: RequestContext, name: string) => string> = {
  header: (ctx, name) => {
    const v = ctx.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : (v ?? '');
  },
  query: (ctx, name) => new URLSearchParams(ctx.query).get(name) ?? '',
  var: (ctx, name) => ctx.variables?.[name] ?? '',
  identity: (ctx, name) => (ctx.identity ? String(ctx.identity[name as keyof typeof ctx.identity] ?? '') : ''),
  request: (ctx, name) => (name === 'method' ? ctx.method : ctx.path),
  client: (ctx) => ctx.clientIp,
};

export function compileTemplate(template: string): CompiledTemplate {
  const parts: ((ctx: RequestContext) => string)[] = [];
  let last = 0;
  for (const m of template.matchAll(/\$\{([^}]*)\}/g)) {
    const literal = template.slice(last, m.index);
    if (literal) parts.push(() => literal);
    const dot = m[1].indexOf('.');
    const lookup = lookups[m[1].slice(0, dot)];
    const name = m[1].slice(dot + 1);
    parts.push((ctx) => lookup(ctx, name));
    last = m.index! + m[0].length;
  }
  const tail = template.slice(last);
  if (tail) parts.push(() => tail);
  if (parts.length === 1) return parts[0];
  return (ctx) => parts.map((p) => p(ctx)).join('');
}

export function setVariable(ctx: RequestContext, name: string, value: string): void {
  (ctx.variables ??= {})[name] = value;
}

/** The input of a request-phase JOSE policy; null when absent. A header's scheme ("Bearer") is required and removed. */
export function readRequestPayload(ctx: RequestContext, source: PayloadSource): Buffer | null {
  switch (source.from) {
    case 'body':
      return ctx.body;
    case 'variable': {
      const v = ctx.variables?.[source.name];
      return v === undefined ? null : Buffer.from(v, 'utf8');
    }
    case 'header': {
      const raw = ctx.headers[source.name];
      const value = Array.isArray(raw) ? raw[0] : raw;
      if (value === undefined) return null;
      if (source.scheme === undefined) return Buffer.from(value.trim(), 'utf8');
      const space = value.indexOf(' ');
      if (space < 0 || value.slice(0, space).toLowerCase() !== source.scheme.toLowerCase()) return null;
      return Buffer.from(value.slice(space + 1).trim(), 'utf8');
    }
  }
}

/** Writes a request-phase result where the policy says. */
export function writeRequestPayload(ctx: RequestContext, target: PayloadTarget, value: string): void {
  switch (target.to) {
    case 'body':
      ctx.body = Buffer.from(value, 'utf8');
      ctx.bodyContentType = target.contentType;
      return;
    case 'header':
      ctx.upstreamHeaders[target.name] = target.scheme ? `${target.scheme} ${value}` : value;
      return;
    case 'variable':
      setVariable(ctx, target.name, value);
  }
}
