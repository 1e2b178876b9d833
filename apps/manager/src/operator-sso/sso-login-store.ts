import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createRedisClient } from '@idm/config-bus';
import type Redis from 'ioredis';
import type { ServiceProvider, SourceIdentity } from '@idm/identity-sources';
import { createHash } from 'node:crypto';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { ProblemError } from '../problems/problem.error';

/** What the Manager keeps between the redirect to the IdP and its callback. */
export interface PendingSsoLogin {
  source: string;
  nonce: string;
  verifier: string;
  /** The redirect_uri sent to the IdP: the code exchange must name the same. */
  redirectUri: string;
  /** SHA-256 of the browser binding cookie's value: the callback must come back with that cookie. */
  browser: string;
}

/** A SAML AuthnRequest sent for an operator, kept under its RelayState until the IdP posts the Response to the ACS. */
export interface PendingSamlLogin {
  source: string;
  /** The AuthnRequest's ID: the Response's InResponseTo must be exactly this. */
  requestId: string;
  /** Our entityID and ACS URL as the AuthnRequest named them (the Audience, Destination and Recipient required). */
  sp: ServiceProvider;
  /** SHA-256 of the browser binding cookie's value, checked when the browser comes back after the ACS. */
  browser: string;
}

/** A Response the ACS verified, waiting for the same browser's top-level GET (its SameSite=Lax cookie is sent again). */
export interface VerifiedSamlLogin {
  source: string;
  identity: SourceIdentity;
  browser: string;
}

/** What the console collects after the callback: the operator to open a session for, or why not. */
export type SsoHandoff =
  | { outcome: 'signed-in'; operator: { id: string; username: string }; source: string }
  | { outcome: 'refused'; problem: { status: number; code: string; title: string; detail?: string } };

const PREFIX = '{idm:operator-sso}';
const digest = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * The operator SSO flow's short-lived records in Redis (shared by every Manager instance, so a
 * callback may land on another one): each is keyed by the SHA-256 of a random value only the
 * browser holds and is taken with GETDEL, so it is used once — a replayed callback or handoff
 * finds nothing. No session token is ever stored: the session is opened when the console
 * collects the handoff.
 */
@Injectable()
export class SsoLoginStore implements OnApplicationShutdown {
  private readonly redis: Redis;

  constructor(@Inject(MANAGER_CONFIG) config: ManagerConfig) {
    this.redis = createRedisClient(config.redis, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      connectionName: 'idm-manager-operator-sso',
    });
    this.redis.on('error', () => undefined);
    this.redis.connect().catch(() => undefined);
  }

  savePending(state: string, login: PendingSsoLogin, ttlSeconds: number): Promise<void> {
    return this.put(`pending:${digest(state)}`, login, ttlSeconds);
  }

  takePending(state: string): Promise<PendingSsoLogin | null> {
    return this.take(`pending:${digest(state)}`);
  }

  savePendingSaml(relayState: string, login: PendingSamlLogin, ttlSeconds: number): Promise<void> {
    return this.put(`saml:${digest(relayState)}`, login, ttlSeconds);
  }

  /** The RelayState's record, once: a replayed Response (on any Manager instance) finds nothing. */
  takePendingSaml(relayState: string): Promise<PendingSamlLogin | null> {
    return this.take(`saml:${digest(relayState)}`);
  }

  saveVerifiedSaml(handle: string, verified: VerifiedSamlLogin, ttlSeconds: number): Promise<void> {
    return this.put(`saml-ok:${digest(handle)}`, verified, ttlSeconds);
  }

  takeVerifiedSaml(handle: string): Promise<VerifiedSamlLogin | null> {
    return this.take(`saml-ok:${digest(handle)}`);
  }

  saveHandoff(key: string, handoff: SsoHandoff, ttlSeconds: number): Promise<void> {
    return this.put(`handoff:${digest(key)}`, handoff, ttlSeconds);
  }

  takeHandoff(key: string): Promise<SsoHandoff | null> {
    return this.take(`handoff:${digest(key)}`);
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }

  private async put(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    try {
      await this.redis.set(`${PREFIX}:${key}`, JSON.stringify(value), 'EX', ttlSeconds);
    } catch {
      throw unavailable();
    }
  }

  private async take<T>(key: string): Promise<T | null> {
    let raw: string | null;
    try {
      raw = await this.redis.getdel(`${PREFIX}:${key}`);
    } catch {
      throw unavailable();
    }
    return raw === null ? null : (JSON.parse(raw) as T);
  }
}

const unavailable = () => new ProblemError(503, 'sso_store_unavailable', 'Single sign-on is unavailable', 'the Manager cannot reach Redis to keep the sign-in; try again shortly');
