/**
 * What a `never` token lifetime means for an issued token: capped, so every token still carries
 * `exp` (verifiers refuse JWTs without one). A signing key stays published up to this long after it
 * stops signing, so the cap is also the longest retirement.
 */
export const NEVER_EXPIRES_CAP_SECONDS = 10 * 365 * 86400;
