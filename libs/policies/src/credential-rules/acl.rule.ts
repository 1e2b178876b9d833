import type { CredentialAccess } from '@idm/domain';
import type { PolicyRejection } from '../policy';
import type { RejectionCode } from '../rejection-reasons';

type Acl = NonNullable<CredentialAccess['acl']>;
type EndpointRule = Acl['allowedEndpoints'][number];

interface CompiledEndpoint {
  readonly proxyId: string | null;
  readonly path: RegExp;
  /** null: every method. */
  readonly methods: ReadonlySet<string> | null;
}

const reject = (code: RejectionCode, message: string): PolicyRejection => Object.freeze({ status: 403, code, message });
const PROXY_DENIED = reject('acl_proxy_denied', 'This credential may not call this API');
const METHOD_DENIED = reject('acl_method_denied', 'This credential may not use this HTTP method');
const ENDPOINT_DENIED = reject('acl_endpoint_denied', 'This credential may not call this endpoint');

/** Which proxies, methods and endpoints a credential may call; compiled to sets and regexes. */
export class AclRule {
  private readonly allowedProxies: ReadonlySet<string> | null;
  private readonly deniedProxies: ReadonlySet<string>;
  private readonly allowedMethods: ReadonlySet<string> | null;
  private readonly deniedMethods: ReadonlySet<string>;
  private readonly allowedEndpoints: readonly CompiledEndpoint[];
  private readonly deniedEndpoints: readonly CompiledEndpoint[];

  constructor(acl: Acl) {
    this.allowedProxies = acl.allowedProxies === null ? null : new Set(acl.allowedProxies);
    this.deniedProxies = new Set(acl.deniedProxies);
    this.allowedMethods = acl.allowedMethods === null ? null : new Set(acl.allowedMethods);
    this.deniedMethods = new Set(acl.deniedMethods);
    this.allowedEndpoints = acl.allowedEndpoints.map(compileEndpoint);
    this.deniedEndpoints = acl.deniedEndpoints.map(compileEndpoint);
  }

  /** `endpoint` is the request path below the proxy's base path ("/" for the base path itself). */
  check(proxyId: string, method: string, endpoint: string): PolicyRejection | undefined {
    if (this.deniedProxies.has(proxyId) || (this.allowedProxies !== null && !this.allowedProxies.has(proxyId))) return PROXY_DENIED;
    if (this.deniedMethods.has(method) || (this.allowedMethods !== null && !this.allowedMethods.has(method))) return METHOD_DENIED;
    if (this.deniedEndpoints.some((e) => matches(e, proxyId, method, endpoint))) return ENDPOINT_DENIED;
    if (this.allowedEndpoints.length !== 0 && !this.allowedEndpoints.some((e) => matches(e, proxyId, method, endpoint))) return ENDPOINT_DENIED;
    return undefined;
  }
}

function matches(e: CompiledEndpoint, proxyId: string, method: string, endpoint: string): boolean {
  return (e.proxyId === null || e.proxyId === proxyId) && (e.methods === null || e.methods.has(method)) && e.path.test(endpoint);
}

function compileEndpoint(rule: EndpointRule): CompiledEndpoint {
  return { proxyId: rule.proxyId, path: endpointPatternToRegExp(rule.path), methods: rule.methods.length === 0 ? null : new Set(rule.methods) };
}

/** "*" is one path segment, "**" any rest; a trailing "/**" also matches the bare prefix. */
export function endpointPatternToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      // "/**" at the end: the prefix itself or anything below it.
      if (source.endsWith('/') && i + 2 === pattern.length) source = source.slice(0, -1) + '(?:/.*)?';
      else source += '.*';
      i++;
    } else if (ch === '*') source += '[^/]*';
    else source += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
