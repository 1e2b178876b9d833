import { AUTHORIZATION, presented } from '../authentication/presented';
import type { RequestContext } from '../policy';

/** An access token as the client presented it: `Authorization: Bearer` (RFC 6750) or `Authorization: DPoP` (RFC 9449 §7.1). */
export interface PresentedAccessToken {
  readonly scheme: 'Bearer' | 'DPoP';
  readonly token: string;
}

/** The token of `Authorization: Bearer|DPoP <token>`, or undefined. The scheme is case-insensitive (RFC 7235). */
export function accessTokenOf(ctx: RequestContext): PresentedAccessToken | undefined {
  const header = presented(ctx, AUTHORIZATION);
  if (header === undefined || header.length < 6) return undefined;
  const space = header.indexOf(' ');
  if (space !== 4 && space !== 6) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'dpop') return undefined;
  const token = header.slice(space + 1).trim();
  if (token === '') return undefined;
  return { scheme: scheme === 'dpop' ? 'DPoP' : 'Bearer', token };
}
