/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { screen } from '@testing-library/react';
import { renderWithCache } from '../../test/render';
import { SignInScreen, type SsoSource } from './SignInScreen';

const corporate: SsoSource = { id: '0a0b0c0d-1111-4222-8333-444455556666', name: 'corp-idp', type: 'oidc', displayName: 'Corporate IdP' };
const partner: SsoSource = { id: '0a0b0c0d-1111-4222-8333-777788889999', name: 'partner.sso', type: 'oidc', displayName: 'partner.sso' };
const adfs: SsoSource = { id: '0a0b0c0d-1111-4222-8333-aaaabbbbcccc', name: 'corp-adfs', type: 'saml', displayName: 'Corporate ADFS' };

const renderWith = (sources: SsoSource[]) => renderWithCache(<SignInScreen onSignedIn={() => undefined} />, [[['auth', 'sso'], sources]]);

describe('the sign-in screen’s single sign-on buttons (what GET /api/v1/auth/sso lists)', () => {
  it('offers one "Sign in with" link per source, OpenID Connect or SAML alike, to the Manager’s start of that source', () => {
    renderWith([corporate, adfs, partner]);
    const links = screen.getAllByRole('link').filter((l) => l.textContent?.startsWith('Sign in with'));
    expect(links.map((l) => [l.textContent, l.getAttribute('href')])).toEqual([
      ['Sign in with Corporate IdP', '/api/v1/auth/sso/corp-idp/start'],
      ['Sign in with Corporate ADFS', '/api/v1/auth/sso/corp-adfs/start'],
      ['Sign in with partner.sso', '/api/v1/auth/sso/partner.sso/start'],
    ]);
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeTruthy(); // local sign-in stays
  });

  it('shows no SSO section when no source lets operators in', () => {
    renderWith([]);
    expect(screen.queryAllByRole('link')).toHaveLength(0);
    expect(screen.queryByText('or')).toBeNull();
    expect(screen.getByLabelText(/Username/)).toBeTruthy();
  });
});
