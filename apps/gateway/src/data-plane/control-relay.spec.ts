import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControlRelay } from './control-relay';
import type { ControlRequest } from './thread-messages';

/** The relay behind a real node:http server; the "control thread" is a function answering (or not). */
const keepAlive = new Agent({ keepAlive: true });

function send(port: number, path: string, method = 'GET', body?: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: keepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('ControlRelay', () => {
  const seen: ControlRequest[] = [];
  let answer: (id: number, request: ControlRequest) => void = () => undefined;
  let relay: ControlRelay;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    relay = new ControlRelay((id, request) => {
      seen.push(request);
      answer(id, request);
    }, 300);
    server = createServer(relay.handle);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => {
    keepAlive.destroy();
    return new Promise<void>((done) => server.close(() => done()));
  });

  it('hands method, URL, headers, peer and body over and writes back the answer without its connection headers', async () => {
    answer = (id) => relay.settle(id, { status: 201, headers: { 'content-type': 'text/plain', connection: 'close', 'content-length': '999', 'x-from': 'nest' }, body: Buffer.from('made') });
    const res = await send(port, '/health/live?x=1', 'POST', Buffer.from('ping'));
    expect(res).toMatchObject({ status: 201, text: 'made' });
    expect(res.headers).toMatchObject({ 'content-type': 'text/plain', 'x-from': 'nest', 'content-length': '4' });
    expect(res.headers.connection).toBe('keep-alive'); // the relayed `connection: close` did not end this socket
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', url: '/health/live?x=1', remoteAddress: '127.0.0.1' });
    expect(request.headers.host).toBe(`127.0.0.1:${port}`);
    expect(Buffer.from(request.body!).toString()).toBe('ping');
  });

  it('refuses a body over 64 KiB with 413 without bothering the control thread', async () => {
    const before = seen.length;
    const res = await send(port, '/metrics', 'POST', Buffer.alloc(65 * 1024, 1));
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'payload_too_large' });
    expect(seen.length).toBe(before);
  });

  it('answers 503 control_unavailable when the control thread does not answer in time, and ignores a late answer', async () => {
    let late: number | undefined;
    answer = (id) => (late = id);
    const res = await send(port, '/metrics');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'control_unavailable' });
    relay.settle(late!, { status: 200, headers: {}, body: Buffer.from('too late') }); // nobody waits: no effect, no throw
  });
});
