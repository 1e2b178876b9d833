import { SecretBox, type PolicySpec } from '@idm/domain';
import { ProblemError } from '../problems/problem.error';

/**
 * The client secret of a proxy's token-service settings (`policies[].config.tokenService`) is
 * write-only: it is sealed with the master key before it is stored (and so travels sealed in the
 * snapshot), never returned by the API nor shown in audit diffs. An update that leaves it out
 * keeps the stored one of the same policy type, so a read-modify-write round trip is safe.
 */
type TokenServiceBlock = Record<string, unknown> & { clientSecret?: unknown };

const tokenServiceOf = (spec: { config?: Record<string, unknown> }): TokenServiceBlock | undefined => {
  const block = spec.config?.tokenService;
  return typeof block === 'object' && block !== null && !Array.isArray(block) ? (block as TokenServiceBlock) : undefined;
};

/** Before validation: refuse sealed text from clients, and carry a stored secret over when none is given. */
export function withStoredClientSecrets(specs: PolicySpec[], stored: PolicySpec[] = []): PolicySpec[] {
  return specs.map((spec, index) => {
    const block = tokenServiceOf(spec);
    if (!block) return spec;
    if (SecretBox.isSealed(block.clientSecret)) {
      throw ProblemError.validation([{ path: `policies.${index}.config.tokenService.clientSecret`, message: 'must be the plaintext secret (it is sealed by the Manager)' }]);
    }
    if (block.clientSecret !== undefined) return spec;
    const previous = stored.map(tokenServiceOf).find((b, i) => b && stored[i].type === spec.type)?.clientSecret;
    if (previous === undefined) return spec; // the policy schema reports the missing secret
    return { ...spec, config: { ...spec.config, tokenService: { ...block, clientSecret: previous } } };
  });
}

/** After validation: seal every secret that is not sealed yet. */
export function sealClientSecrets(box: SecretBox, specs: PolicySpec[]): PolicySpec[] {
  return specs.map((spec) => {
    const block = tokenServiceOf(spec);
    if (!block || typeof block.clientSecret !== 'string' || SecretBox.isSealed(block.clientSecret)) return spec;
    return { ...spec, config: { ...spec.config, tokenService: { ...block, clientSecret: box.seal(block.clientSecret) } } };
  });
}

/** What the API and the audit log show: everything but the secret. */
export function withoutClientSecrets(specs: PolicySpec[]): PolicySpec[] {
  return specs.map((spec) => {
    const block = tokenServiceOf(spec);
    if (!block) return spec;
    const { clientSecret: _, ...visible } = block;
    return { ...spec, config: { ...spec.config, tokenService: visible } };
  });
}

/** True when the spec has a token-service block that leaves its secret out (an export, or "keep the stored one"). */
export function leavesClientSecretOut(spec: PolicySpec): boolean {
  const block = tokenServiceOf(spec);
  return !!block && block.clientSecret === undefined;
}

/**
 * The specs with each client secret replaced by whether it differs from the stored one of the same
 * policy type, so two versions compare without the secret ever leaving its seal in a result:
 * left out or opening to the same plaintext is `unchanged`, anything else `changed`.
 */
export function withComparableClientSecrets(box: SecretBox, specs: PolicySpec[], stored: PolicySpec[]): PolicySpec[] {
  return specs.map((spec) => {
    const block = tokenServiceOf(spec);
    if (!block) return spec;
    const previous = stored.map(tokenServiceOf).find((b, i) => b && stored[i].type === spec.type)?.clientSecret;
    const given = block.clientSecret;
    const unchanged =
      given === undefined || given === previous || (typeof given === 'string' && typeof previous === 'string' && SecretBox.isSealed(previous) && opensTo(box, previous, given));
    return { ...spec, config: { ...spec.config, tokenService: { ...block, clientSecret: unchanged ? 'unchanged' : 'changed' } } };
  });
}

function opensTo(box: SecretBox, sealed: string, plaintext: string): boolean {
  try {
    return box.open(sealed) === plaintext;
  } catch {
    return false; // a secret no configured master key opens is replaced, not compared
  }
}
