import { loadCountryDatabase } from '@idm/policies';
import { AuthRecordFactory, emptyTokenCallSubject } from './auth-record-factory';
import { recordCountry } from './auth-records.providers';

/**
 * The client's country on auth records (AUTH_RECORDS_COUNTRY), from the GeoIP database the geo
 * credential rules read: `auto` only once geo rules opened it, `on` always, `off` never.
 * 8.8.8.8 is Google's (US), 85.105.1.1 a Turkish ISP's (as in the geo rule's spec); loopback has
 * no country.
 */
describe('country on auth records', () => {
  const recordFrom = (clientIp: string, mode: 'auto' | 'on' | 'off') =>
    new AuthRecordFactory('prod', 'gw-1', Date.now, recordCountry(mode)).ofTokenEndpoint('req-1', performance.now(), {}, clientIp, emptyTokenCallSubject(), {
      endpoint: 'token',
      issuer: null,
      tokenType: null,
      status: 401,
      error: 'invalid_client',
    });

  // First in the file: the database is process-wide and nothing opened it yet.
  it('auto: no lookup until a geo rule opened the database, then the country', () => {
    expect(recordFrom('8.8.8.8', 'auto').country).toBeNull();
    loadCountryDatabase(); // what compiling a credential's geo rule does
    expect(recordFrom('8.8.8.8', 'auto').country).toBe('US');
  });

  it('on: looked up always; loopback and unknown addresses are null', () => {
    expect(recordFrom('8.8.8.8', 'on').country).toBe('US');
    expect(recordFrom('85.105.1.1', 'on').country).toBe('TR');
    expect(recordFrom('2001:4860:4860::8888', 'on').country).toBe('US');
    expect(recordFrom('127.0.0.1', 'on').country).toBeNull();
  });

  it('off: never, even with the database open', () => {
    expect(recordFrom('8.8.8.8', 'off').country).toBeNull();
  });
});
