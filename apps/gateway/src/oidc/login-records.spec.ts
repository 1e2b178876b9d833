import { authRecordSchema, type AuthRecord } from '@idm/config-bus';
import type { IncomingMessage } from 'node:http';
import { AuthRecordFactory } from '../auth-records/auth-record-factory';
import { AuthRecorder } from '../auth-records/auth-recorder';
import { loginAttemptRecorder, loginDecision, type LoginAttempt, type LoginResult } from './login-records';

/**
 * The OP login page's attempts as auth records: one per submitted form, its outcome and reason
 * code told apart (the page itself says the same generic thing), the OIDC client in the policy and in clientId,
 * the end user where known, the address as the failure limits read it — and never the password,
 * which the attempt does not even carry.
 */
describe('OP login auth records', () => {
  const CLIENT = 'c0ffee00-0000-4000-8000-000000000001';
  const attempt = (result: LoginResult, username = 'alice'): LoginAttempt => ({ clientId: CLIENT, projectId: 'p1', username, issuer: 'https://gw.example/credential', result });

  it.each([
    [{ outcome: 'verified', credentialId: 'u1' }, 'success', 200, null, 'u1'],
    [{ outcome: 'rejected', reason: 'invalid_credentials', credentialId: null }, 'denied', 401, 'invalid_credentials', null],
    [{ outcome: 'rejected', reason: 'account_locked', credentialId: 'u2' }, 'denied', 401, 'account_locked', 'u2'],
    [{ outcome: 'rejected', reason: 'account_disabled', credentialId: 'u3' }, 'denied', 401, 'account_disabled', 'u3'],
    [{ outcome: 'unavailable', code: 'source_unavailable' }, 'denied', 503, 'source_unavailable', null],
    [{ outcome: 'locked_out' }, 'blocked', 429, 'too_many_failures', null],
    [{ outcome: 'incomplete' }, 'denied', 400, 'invalid_request', null],
  ] as [LoginResult, string, number, string | null, string | null][])('maps %j to %s %d %s', (result, outcome, status, reason, credentialId) => {
    expect(loginDecision(attempt(result))).toEqual({
      proxyId: null,
      proxyName: null,
      projectId: 'p1',
      policy: `oidc-login:${CLIENT}`,
      outcome,
      reason,
      status,
      credentialId,
      username: 'alice',
      keyPrefix: null,
      clientId: CLIENT,
      tokenType: null,
    });
  });

  it('keeps an empty username out and cuts a long one to the record bound', () => {
    expect(loginDecision(attempt({ outcome: 'incomplete' }, '')).username).toBeNull();
    expect(loginDecision(attempt({ outcome: 'incomplete' }, 'x'.repeat(300))).username).toHaveLength(256);
  });

  describe('the hook', () => {
    const req = { headers: { 'user-agent': 'test-browser', 'x-request-id': 'req-login-1' }, socket: { remoteAddress: '203.0.113.9' } } as unknown as IncomingMessage;
    const factory = new AuthRecordFactory('dev', 'gw-1', () => 1_700_000_000_000);
    const addressOf = (peer: string) => peer;

    it('reports a schema-valid record with the issuer, address, user agent and request id', () => {
      const recorder = new AuthRecorder();
      const told: AuthRecord[] = [];
      recorder.subscribe((r) => told.push(r));
      loginAttemptRecorder(recorder, factory, addressOf)(req, performance.now(), attempt({ outcome: 'rejected', reason: 'invalid_credentials', credentialId: null }));
      expect(told).toHaveLength(1);
      const record = authRecordSchema.parse(told[0]);
      expect(record).toMatchObject({
        environment: 'dev',
        gatewayId: 'gw-1',
        time: 1_700_000_000_000,
        policy: `oidc-login:${CLIENT}`,
        outcome: 'denied',
        reason: 'invalid_credentials',
        username: 'alice',
        issuer: 'https://gw.example/credential',
        clientIp: '203.0.113.9',
        userAgent: 'test-browser',
        requestId: 'req-login-1',
      });
    });

    it('builds no record nobody wants: with refusal listeners only, a success is not built', () => {
      const recorder = new AuthRecorder();
      const told: string[] = [];
      recorder.subscribeRefusals((r) => told.push(r.outcome));
      const hook = loginAttemptRecorder(recorder, factory, addressOf);
      hook(req, performance.now(), attempt({ outcome: 'verified', credentialId: 'u1' }));
      hook(req, performance.now(), attempt({ outcome: 'locked_out' }));
      expect(told).toEqual(['blocked']);
    });
  });
});
