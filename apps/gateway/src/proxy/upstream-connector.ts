import type { UpstreamPolicy, UpstreamRefusal } from '@idm/domain';
import { lookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { buildConnector } from 'undici';

/** A connection the upstream policy refused; answered 502 `upstream_forbidden`. */
export class UpstreamForbiddenError extends Error {
  readonly code = 'IDM_UPSTREAM_FORBIDDEN';
  constructor(readonly refusal: UpstreamRefusal) {
    super(refusal.detail);
    this.name = 'UpstreamForbiddenError';
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * undici's own connector, with the upstream policy checked on the address the socket is about to
 * connect to: a host name goes through our `lookup` (node:net calls it for every connection, so
 * a name that resolves to 127.0.0.1 tomorrow is refused tomorrow: no DNS rebinding), an address
 * literal is checked before connecting. Built once per pool (one origin, one port), so a request
 * on a kept-alive connection pays nothing.
 */
export function guardedConnector(policy: UpstreamPolicy, origin: URL, options: buildConnector.BuildOptions): buildConnector.connector {
  const port = Number(origin.port) || (origin.protocol === 'https:' ? 443 : 80);
  const guardedLookup = (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void => {
    lookup(hostname, { ...lookupOptions, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      void firstRefusal(
        policy,
        hostname,
        addresses.map((a) => a.address),
        port,
      ).then((refusal) => {
        if (refusal) return callback(new UpstreamForbiddenError(refusal), []);
        if (lookupOptions.all) return callback(null, addresses);
        callback(null, addresses[0].address, addresses[0].family);
      });
    });
  };
  const connect = buildConnector({ ...options, lookup: guardedLookup });
  return (connectOptions, callback) => {
    const { hostname } = connectOptions;
    if (!isIP(hostname)) return connect(connectOptions, callback); // checked in guardedLookup
    void firstRefusal(policy, hostname, [hostname], port).then((refusal) => {
      if (refusal) callback(new UpstreamForbiddenError(refusal), null);
      else connect(connectOptions, callback);
    });
  };
}

/** Never rejects: a check that fails refuses the connection (fail closed, and no request left hanging). */
async function firstRefusal(policy: UpstreamPolicy, hostname: string, addresses: string[], port: number): Promise<UpstreamRefusal | null> {
  try {
    for (const address of addresses) {
      const refusal = await policy.check(hostname, address, port);
      if (refusal) return refusal;
    }
    return null;
  } catch (err) {
    return { reason: 'denied_by_policy', detail: `the upstream policy could not be evaluated (${(err as Error).message})` };
  }
}
