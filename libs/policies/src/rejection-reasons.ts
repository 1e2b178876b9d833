/**
 * Every reason code a policy chain answers with, its HTTP status(es) and what it means to the
 * client. `PolicyRejection.code` is typed from this table, so a new code cannot ship without a
 * row here; the Gateway README's "Reason codes" table is checked against it by a test.
 */
export const REJECTION_REASONS = {
  missing_credentials: { statuses: [401], meaning: 'no credentials were presented (rate-limit per credential: none authenticated before it)' },
  malformed_credentials: { statuses: [400, 401], meaning: 'the credentials cannot be read (400: a Digest header that is not well-formed)' },
  invalid_credentials: { statuses: [401], meaning: 'unknown username or wrong password' },
  invalid_api_key: { statuses: [401], meaning: 'unknown API key, or a key of another project' },
  api_key_expired: { statuses: [401], meaning: 'the API key has expired' },
  credential_disabled: { statuses: [401], meaning: 'the credential is disabled' },
  credential_expired: { statuses: [401], meaning: 'the credential has expired' },
  tls_required: { statuses: [401], meaning: 'mtls-auth on a plain HTTP connection' },
  missing_client_certificate: { statuses: [401], meaning: 'no client certificate on the TLS connection' },
  malformed_client_certificate: { statuses: [401], meaning: 'the certificate cannot be read or has no single CN in the matched field' },
  unknown_client_certificate: { statuses: [401], meaning: "no credential matches the certificate's CN" },
  untrusted_client_certificate: { statuses: [401], meaning: "the certificate does not chain to the credential's truststore, or is outside its validity" },
  invalid_nonce: { statuses: [401], meaning: 'a Digest nonce or opaque value this Gateway did not issue' },
  nonce_expired: { statuses: [401], meaning: 'right password, stale Digest nonce (stale=true: retry with the new one)' },
  nonce_replayed: { statuses: [401], meaning: 'a Digest nonce count already used' },
  unsupported_algorithm: { statuses: [401], meaning: 'a Digest algorithm the policy does not accept' },
  missing_token: { statuses: [401], meaning: 'no `Authorization: Bearer` token' },
  invalid_token: { statuses: [401], meaning: 'the bearer token is not valid here (signature, expiry, issuer, audience, revoked, its credential or proxy binding)' },
  insufficient_scope: { statuses: [403], meaning: 'the bearer token lacks a scope or role the method requires' },
  acl_proxy_denied: { statuses: [403], meaning: "the credential's ACL does not allow this proxy" },
  acl_method_denied: { statuses: [403], meaning: "the credential's ACL does not allow this method" },
  acl_endpoint_denied: { statuses: [403], meaning: "the credential's ACL does not allow this endpoint" },
  ip_denied: { statuses: [403], meaning: "the client address is outside the credential's IP groups" },
  geo_denied: { statuses: [403], meaning: "the client's country is not allowed for the credential" },
  geo_unknown_location: { statuses: [403], meaning: 'the location of the client address is unknown and the credential denies unknown locations' },
  time_restricted: { statuses: [403], meaning: "outside the credential's time windows" },
  credential_rules_invalid: { statuses: [403], meaning: "the credential's rules cannot be enforced by this Gateway (fail closed)" },
  method_not_allowed: { statuses: [405], meaning: "a method outside the proxy's list (with Allow)" },
  rate_limited: { statuses: [429], meaning: 'a rate limit is used up (with Retry-After)' },
  quota_exceeded: { statuses: [429], meaning: 'a quota is used up (with Retry-After)' },
  rate_limit_unavailable: { statuses: [503], meaning: 'the rate-limit store cannot answer and the rule fails closed' },
  nonce_store_unavailable: { statuses: [503], meaning: 'the Digest nonce-count store cannot answer' },
  token_store_unavailable: { statuses: [503], meaning: 'the opaque token store cannot answer' },
  proxy_unavailable: { statuses: [503], meaning: "the proxy's policy chain or upstream did not compile on this Gateway (fail closed)" },
} as const satisfies Record<string, { statuses: readonly number[]; meaning: string }>;

export type RejectionCode = keyof typeof REJECTION_REASONS;
