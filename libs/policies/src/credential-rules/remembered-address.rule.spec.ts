import type { PolicyRejection } from '../policy';
import { RememberedAddressRule, type AddressRule } from './remembered-address.rule';

const DENIED: PolicyRejection = { status: 403, code: 'ip_denied', message: 'no' };

function countingRule(denied: ReadonlySet<string>) {
  const asked: string[] = [];
  const rule: AddressRule = { check: (ip) => (asked.push(ip), denied.has(ip) ? DENIED : undefined) };
  return { rule, asked };
}

describe('RememberedAddressRule', () => {
  it('asks the rule once per address and keeps both verdicts', () => {
    const { rule, asked } = countingRule(new Set(['10.0.0.1']));
    const remembered = new RememberedAddressRule(rule);
    for (let i = 0; i < 3; i++) {
      expect(remembered.check('10.0.0.1')).toBe(DENIED);
      expect(remembered.check('10.0.0.2')).toBeUndefined();
    }
    expect(asked).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('stays within its capacity and still answers correctly after starting over', () => {
    const { rule, asked } = countingRule(new Set(['10.0.0.3']));
    const remembered = new RememberedAddressRule(rule, 2);
    expect(remembered.check('10.0.0.1')).toBeUndefined();
    expect(remembered.check('10.0.0.2')).toBeUndefined();
    expect(remembered.check('10.0.0.3')).toBe(DENIED); // full: forgets the first two
    expect(remembered.check('10.0.0.1')).toBeUndefined();
    expect(asked).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']);
  });
});
