import type { ConfigSnapshot } from '@idm/config-bus';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * What the two threads of a Gateway process say to each other. The control thread (Nest: config
 * bus, health, metrics) hands revisions over and answers relayed requests for its endpoints; the
 * data-plane thread (listeners, proxy and token traffic) reports what it serves.
 */

/** A request for one of Nest's endpoints, taken off the data plane's socket. */
export interface ControlRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  remoteAddress: string;
  body: Uint8Array | null;
}

export interface ControlReply {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Uint8Array;
}

export type ToDataPlane =
  | { type: 'activate'; snapshot: ConfigSnapshot }
  | { type: 'scrape'; id: number }
  | { type: 'control-reply'; id: number; reply: ControlReply }
  | { type: 'stop' };

export type FromDataPlane =
  | { type: 'listening'; port: number; tlsPort: number | null }
  | { type: 'activated'; revision: number }
  | { type: 'scraped'; id: number; text: string }
  | { type: 'control-request'; id: number; request: ControlRequest }
  | { type: 'stopped' };
