import { UpstreamPolicy } from '@idm/domain';
import { jwksFetcherWith } from '@idm/policies';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { guardedConnector } from './upstream-connector';

/** The JOSE policies' partner JWKS fetches go through the upstream policy, as the Gateway wires them (gateway.module.ts). */
describe('JWKS fetches under the upstream policy', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const fetcherUnder = (allow: string[]) => {
    const policy = new UpstreamPolicy({ allowInternal: false, allow, deny: [], ownEndpoints: [] });
    return jwksFetcherWith((origin, options) => guardedConnector(policy, origin, options));
  };

  it('refuses a partner URL on loopback unless the upstream policy allows it', async () => {
    await expect(fetcherUnder([])(url, { timeoutMs: 2000, tls: {} })).rejects.toMatchObject({ code: 'IDM_UPSTREAM_FORBIDDEN' });
    await expect(fetcherUnder(['127.0.0.1'])(url, { timeoutMs: 2000, tls: {} })).resolves.toEqual({ keys: [] });
  });
});
