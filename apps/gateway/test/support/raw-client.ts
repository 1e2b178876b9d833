import { connect, type Socket } from 'node:net';

/**
 * Raw HTTP/1.1 on a node:net socket, for tests of the Gateway's wire behaviour: a client library
 * would tidy up (or refuse to send) exactly what such a test is about. Every received byte is
 * kept, to assert on the wire format.
 */
export class RawClient {
  received = '';
  readonly closed: Promise<void>;
  private readonly socket: Socket;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => (this.received += chunk));
    this.socket.on('error', () => {});
    this.closed = new Promise((done) => this.socket.once('close', () => done()));
  }

  send(bytes: string): this {
    this.socket.write(bytes, 'latin1');
    return this;
  }

  /** Resolves once the received bytes match, or fails after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 3_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pattern.test(this.received)) return;
        stop();
        resolve(this.received);
      };
      const timer = setTimeout(() => (stop(), reject(new Error(`expected ${pattern} in ${JSON.stringify(this.received)}`))), timeoutMs);
      const stop = () => (clearTimeout(timer), this.socket.off('data', check));
      this.socket.on('data', check);
      check();
    });
  }

  /** Everything until the Gateway closes the connection. */
  async untilClosed(timeoutMs = 3_000): Promise<string> {
    await Promise.race([this.closed, new Promise((_, fail) => setTimeout(() => fail(new Error(`not closed; got ${JSON.stringify(this.received)}`)), timeoutMs).unref())]);
    return this.received;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Status, lower-cased headers and body of the first response in `wire`. */
export function parseResponse(wire: string): { status: number; headers: Record<string, string>; body: string } {
  const end = wire.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = wire.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: wire.slice(end + 4) };
}
