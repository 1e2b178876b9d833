import { createHash } from 'node:crypto';
import { DEVELOPMENT_MASTER_KEY } from './development-master-key';

describe('DEVELOPMENT_MASTER_KEY', () => {
  // Changing the derivation would leave every development database's sealed secrets unreadable.
  it('is the derivation development databases were sealed with', () => {
    expect(DEVELOPMENT_MASTER_KEY.id).toBe('dev');
    expect(DEVELOPMENT_MASTER_KEY.key.equals(createHash('sha256').update('identity-manager insecure development master key').digest())).toBe(true);
  });
});
