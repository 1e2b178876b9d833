import { randomBytes } from 'node:crypto';
import { SecretBox } from '@idm/domain';
import { ProblemError } from '../problems/problem.error';
import { sealClientSecrets, withoutClientSecrets, withStoredClientSecrets } from './token-service-secret';

describe('token-service client secret (write-only, sealed at rest)', () => {
  const box = new SecretBox([{ id: 'k1', key: randomBytes(32) }]);
  const spec = (tokenService: Record<string, unknown>, type = 'jwt-auth') => ({ type, config: { tokenService } });

  it('seals a plaintext secret, leaves sealed ones alone and never shows either', () => {
    const [sealed] = sealClientSecrets(box, [spec({ clientId: 'k', clientSecret: 'plain' })]);
    const secret = (sealed.config.tokenService as { clientSecret: string }).clientSecret;
    expect(secret).toMatch(/^enc:v1:k1:/);
    expect(box.open(secret)).toBe('plain');
    expect(sealClientSecrets(box, [sealed])[0]).toEqual(sealed);
    expect(withoutClientSecrets([sealed])[0].config.tokenService).toEqual({ clientId: 'k' });
  });

  it('keeps the stored secret of the same policy type when an update omits it, and refuses sealed input', () => {
    const stored = sealClientSecrets(box, [spec({ clientId: 'k', clientSecret: 'plain' })]);
    const kept = withStoredClientSecrets([spec({ clientId: 'k' })], stored);
    expect((kept[0].config.tokenService as { clientSecret: string }).clientSecret).toBe((stored[0].config.tokenService as { clientSecret: string }).clientSecret);
    expect(withStoredClientSecrets([spec({ clientId: 'k' }, 'oauth2-auth')], stored)[0].config.tokenService).toEqual({ clientId: 'k' });
    expect(() => withStoredClientSecrets([spec({ clientId: 'k', clientSecret: box.seal('x') })])).toThrow(ProblemError);
  });
});
