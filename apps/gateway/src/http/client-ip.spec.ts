import { ClientIpResolver } from './client-ip';

describe('ClientIpResolver', () => {
  const last = new ClientIpResolver({ header: 'x-forwarded-for', position: 'last', trustedProxies: ['10.0.0.0/8', '::1'] });
  const first = new ClientIpResolver({ header: 'x-forwarded-for', position: 'first', trustedProxies: ['10.0.0.0/8'] });

  it('ignores the header from an untrusted peer (spoofing)', () => {
    expect(last.resolve('203.0.113.9', { 'x-forwarded-for': '1.2.3.4' })).toBe('203.0.113.9');
    expect(first.resolve('203.0.113.9', { 'x-forwarded-for': '1.2.3.4' })).toBe('203.0.113.9');
  });

  it('LAST: the nearest address that is not a trusted hop', () => {
    expect(last.resolve('10.0.0.2', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.1.1.1' })).toBe('198.51.100.7');
    expect(last.resolve('::ffff:10.0.0.2', { 'x-forwarded-for': '198.51.100.7' })).toBe('198.51.100.7');
    expect(last.resolve('::1', { 'x-forwarded-for': '2001:db8::5' })).toBe('2001:db8::5');
    expect(last.resolve('10.0.0.2', { 'x-forwarded-for': '10.0.0.9' })).toBe('10.0.0.9');
  });

  it('FIRST: the leftmost entry, from a trusted peer only', () => {
    expect(first.resolve('10.0.0.2', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' })).toBe('6.6.6.6');
  });

  it('falls back to the last trustworthy address on garbage', () => {
    expect(last.resolve('10.0.0.2', { 'x-forwarded-for': 'not-an-ip' })).toBe('10.0.0.2');
    expect(last.resolve('10.0.0.2', { 'x-forwarded-for': 'junk, 10.0.0.7' })).toBe('10.0.0.7');
    expect(first.resolve('10.0.0.2', { 'x-forwarded-for': 'junk' })).toBe('10.0.0.2');
    expect(last.resolve('10.0.0.2', {})).toBe('10.0.0.2');
  });
});
