/** Registered claims (RFC 7519 §4.1) with NumericDate values in epoch seconds; anything else is private. */
export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}
