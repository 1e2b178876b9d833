import type { CredentialAccess } from '@idm/domain';
import type { PolicyRejection } from '../policy';
import { countryOf, loadCountryDatabase } from './country-lookup';
import { normalizeAddress } from './ip-groups.rule';

type GeoRules = NonNullable<CredentialAccess['geo']>;

const DENIED: PolicyRejection = Object.freeze({ status: 403, code: 'geo_denied', message: 'Requests from this country are not allowed for this credential' });
const UNKNOWN_DENIED: PolicyRejection = Object.freeze({
  status: 403,
  code: 'geo_unknown_location',
  message: 'The location of this address is unknown and unknown locations are not allowed for this credential',
});

/** Allowed and denied countries (ISO 3166-1 alpha-2); unknown locations follow `unknownLocation`. */
export class GeoRule {
  private readonly allowed: ReadonlySet<string> | null;
  private readonly denied: ReadonlySet<string>;
  private readonly allowUnknown: boolean;

  constructor(rules: GeoRules) {
    this.allowed = rules.allowedCountries.length === 0 ? null : new Set(rules.allowedCountries);
    this.denied = new Set(rules.deniedCountries);
    this.allowUnknown = rules.unknownLocation === 'allow';
    loadCountryDatabase();
  }

  check(clientIp: string): PolicyRejection | undefined {
    const address = normalizeAddress(clientIp);
    const country = address === null ? null : countryOf(address);
    if (country === null) return this.allowUnknown ? undefined : UNKNOWN_DENIED;
    if (this.denied.has(country) || (this.allowed !== null && !this.allowed.has(country))) return DENIED;
    return undefined;
  }
}
