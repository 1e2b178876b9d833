import { readFileSync } from 'node:fs';
import { Reader } from 'maxmind';

/**
 * Country of an IP address from the GeoLite2 country database that ships inside the
 * `@ip-location-db/geolite2-country-mmdb` package (IPv4 and IPv6, updated with the package; no
 * download at run time), read with MaxMind's `maxmind` reader. Loaded once, on the first
 * credential that has geo rules, so Gateways without such rules never pay its ~9 MB.
 */
interface CountryRecord {
  country_code?: string;
}
let reader: { get(address: string): CountryRecord | null } | undefined;

export function countryOf(address: string): string | null {
  const db = (reader ??= new Reader(readFileSync(require.resolve('@ip-location-db/geolite2-country-mmdb/geolite2-country.mmdb'))) as unknown as {
    get(address: string): CountryRecord | null;
  });
  try {
    return db.get(address)?.country_code ?? null;
  } catch {
    return null; // not an address the database understands: unknown location
  }
}

/** Whether the database is open (a geo rule compiled, or `loadCountryDatabase` ran): looking up is then cheap. */
export function countryDatabaseLoaded(): boolean {
  return reader !== undefined;
}

/** Opens the database now (at compile time) rather than on the first request. */
export function loadCountryDatabase(): void {
  countryOf('127.0.0.1');
}
