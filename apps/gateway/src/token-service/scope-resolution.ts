import type { TokenSettings } from '@idm/domain';
import { OAuthError } from '@idm/tokens';

/**
 * The scope granted for a request (RFC 6749 §3.3). No scope asked: everything the client may
 * have. strict: any unknown value fails the request; lenient: the intersection; ignore: tokens
 * carry no scope at all.
 */
export function grantedScope(requested: string | null, settings: TokenSettings): string {
  if (settings.scopeMode === 'ignore') return '';
  const allowed = settings.scopes;
  if (requested === null || requested.trim() === '') return allowed.join(' ');
  const asked = [...new Set(requested.trim().split(/ +/))];
  const unknown = asked.filter((s) => !allowed.includes(s));
  if (unknown.length > 0 && settings.scopeMode === 'strict') throw new OAuthError('invalid_scope', 'the requested scope is not allowed for this client');
  const granted = asked.filter((s) => allowed.includes(s));
  if (granted.length === 0 && asked.length > 0) throw new OAuthError('invalid_scope', 'none of the requested scope values is allowed for this client');
  return granted.join(' ');
}
