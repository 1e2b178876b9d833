/**
 * The codes the Gateway answers with itself, outside any policy chain: framing the listener
 * refuses, paths no API serves, upstreams that fail. One table with the status and meaning of
 * each, so the `code` an error body carries is typed from it and the README's table is checked
 * against it (readme.spec.ts). The policy chain's codes are REJECTION_REASONS in
 * @idm/policies; the token endpoints' OAuth errors are TOKEN_REJECTION_REASONS in @idm/tokens.
 */
export const GATEWAY_ERRORS = {
  malformed_request: { statuses: [400], meaning: 'the request is not valid HTTP/1.1' },
  missing_host: { statuses: [400], meaning: 'an HTTP/1.1 request without a Host header' },
  duplicate_host: { statuses: [400], meaning: 'more than one Host header' },
  invalid_path: { statuses: [400], meaning: 'a dot segment in any spelling, a NUL byte, or a path encoded too many times over' },
  invalid_query: { statuses: [400], meaning: 'a NUL byte in the query' },
  route_not_found: { statuses: [404], meaning: 'no API proxy or token endpoint is served at this path' },
  method_not_allowed: { statuses: [405], meaning: 'a method a token endpoint does not serve (with Allow)' },
  request_timeout: { statuses: [408], meaning: 'the request head or body did not arrive in time' },
  payload_too_large: { statuses: [413], meaning: 'the body (or its chunk extensions) exceeds the limit' },
  expectation_failed: { statuses: [417], meaning: 'an Expect other than 100-continue' },
  headers_too_large: { statuses: [431], meaning: 'the request head exceeds the limit' },
  internal_error: { statuses: [500], meaning: 'the Gateway failed (logged with the request id)' },
  unsupported_transfer_coding: { statuses: [501], meaning: 'a transfer coding other than chunked' },
  upstream_unreachable: { statuses: [502], meaning: 'the upstream refused or dropped the connection, or its name does not resolve' },
  upstream_forbidden: { statuses: [502], meaning: "the upstream's address is outside the Gateway's upstream policy" },
  upstream_response_too_large: { statuses: [502], meaning: "a response-phase policy (JOSE) must read the upstream's answer whole and it exceeds the body limit" },
  upstream_error: { statuses: [502], meaning: 'the upstream exchange failed otherwise' },
  config_unavailable: { statuses: [503], meaning: 'the Gateway has not loaded its configuration yet' },
  upstream_timeout: { statuses: [504], meaning: 'the upstream did not connect or answer in time' },
} as const satisfies Record<string, { statuses: readonly number[]; meaning: string }>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;
