import type { IncomingMessage } from 'node:http';
import { requestIdOf } from './request-id';

const withId = (id: string | string[] | undefined) => ({ headers: { 'x-request-id': id } }) as Pick<IncomingMessage, 'headers'>;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('requestIdOf (both apps)', () => {
  it("keeps a caller's well-formed id, tracing tools' `<id>@<host>` included", () => {
    expect(requestIdOf(withId('trace-123.abc'))).toBe('trace-123.abc');
    expect(requestIdOf(withId('span:42@edge-1.example'))).toBe('span:42@edge-1.example');
    expect(requestIdOf(withId('x'.repeat(128)))).toBe('x'.repeat(128));
  });

  it('replaces what could split a log line or a header, too long ids, repeated headers and none', () => {
    for (const id of ['not ok <script>', 'a\r\nb', '"quoted"', 'x'.repeat(129), '', ['a', 'b'], undefined]) {
      expect(requestIdOf(withId(id))).toMatch(UUID);
    }
  });
});
