import { createEchoServer } from '@idm/echo-upstream';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export { createEchoServer };

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Listens on an OS-chosen loopback port (in-process, so no race) and says where. */
export async function listenOnLoopback(server: Server): Promise<RunningServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { server, port, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The echo upstream (answers with what it received), running. */
export function startEchoServer(): Promise<RunningServer> {
  return listenOnLoopback(createEchoServer());
}
