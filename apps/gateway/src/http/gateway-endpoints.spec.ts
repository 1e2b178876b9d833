import { isGatewayEndpoint } from './gateway-endpoints';

describe('isGatewayEndpoint', () => {
  it.each(['/health/live', '/health/ready', '/metrics', '/metrics?x=1', '/auth/token', '/.well-known/jwks.json'])('%s is the gateway’s own', (url) =>
    expect(isGatewayEndpoint(url)).toBe(true),
  );
  it.each(['/', '/demo', '/healthy', '/metricsx', '/api/health'])('%s is proxy traffic', (url) => expect(isGatewayEndpoint(url)).toBe(false));
});
