import { tokenCorsSchema } from '@idm/policies';
import { compileCors } from '../http/token-cors';
import { tokenClientIp } from './token-client-ip';

describe('token endpoint CORS and client address', () => {
  const cors = (over: object) => tokenCorsSchema.parse(over);

  it('compiles nothing without origins, and the union of several proxies otherwise', () => {
    expect(compileCors([cors({})])).toBeNull();
    const policy = compileCors([
      cors({ origins: ['https://a.example'], maxAgeSeconds: 60 }),
      cors({ origins: ['https://b.example'], methods: ['PUT'], credentials: true }),
      cors({}),
    ])!;
    expect([...policy.origins]).toEqual(['https://a.example', 'https://b.example']);
    expect(policy.methods).toBe('GET, POST, OPTIONS, PUT');
    expect(policy).toMatchObject({ credentials: true, maxAge: '60', anyOrigin: false });
  });

  it('picks FIRST or LAST of the forwarded-for chain, and falls back to the peer', () => {
    const headers = { 'x-forwarded-for': '203.0.113.7, [2001:db8::1], 198.51.100.2' };
    expect(tokenClientIp({ header: 'x-forwarded-for', order: 'FIRST' }, headers, '10.0.0.1')).toBe('203.0.113.7');
    expect(tokenClientIp({ header: 'x-forwarded-for', order: 'LAST' }, headers, '10.0.0.1')).toBe('198.51.100.2');
    expect(tokenClientIp({ header: 'x-forwarded-for', order: 'FIRST' }, { 'x-forwarded-for': '[2001:db8::1]:443' }, '10.0.0.1')).toBe('2001:db8::1');
    expect(tokenClientIp({ header: 'x-forwarded-for', order: 'FIRST' }, { 'x-forwarded-for': 'unknown' }, '::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(tokenClientIp({ header: null, order: 'FIRST' }, headers, '10.0.0.1')).toBe('10.0.0.1');
  });
});
