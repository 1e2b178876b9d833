import { Injectable } from '@nestjs/common';
import { SecretBox } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { ApiProxyRepository } from '../repositories/api-proxy.repository';
import { CredentialRepository, type StoredMetadataEntry } from '../repositories/credential.repository';
import { ProjectSecretRepository } from '../repositories/project-secret.repository';
import { IdentitySourceRepository } from '../repositories/identity-source.repository';
import { KeyManagerRepository } from '../repositories/key-manager.repository';
import { SigningKeyRepository } from '../repositories/signing-key.repository';

/**
 * Re-encrypts every sealed secret under the active master key, in one audited transaction.
 * Every column that holds sealed values is listed here, so nothing is left under an old key.
 */
@Injectable()
export class MasterKeyRotation {
  constructor(
    private readonly changes: ChangeWriter,
    private readonly secrets: SecretBox,
    private readonly credentials: CredentialRepository,
    private readonly signingKeys: SigningKeyRepository,
    private readonly proxies: ApiProxyRepository,
    private readonly projectSecrets: ProjectSecretRepository,
    private readonly keyManagers: KeyManagerRepository,
    private readonly identitySources: IdentitySourceRepository,
  ) {}

  run(): Promise<{ activeKeyId: string; resealed: number }> {
    return this.changes.write(async (tx) => {
      let resealed = 0;
      const rows = await this.credentials.sealedForUpdate(tx);
      for (const row of rows) {
        const metadata = row.metadata.map((entry): StoredMetadataEntry => {
          if (!entry.secret || SecretBox.keyIdOf(entry.value) === this.secrets.activeKeyId) return entry;
          resealed++;
          return { ...entry, value: this.secrets.reseal(entry.value) };
        });
        if (metadata.some((entry, i) => entry !== row.metadata[i])) await this.credentials.update(tx, row.id, { metadata });
        // Digest HA1 values (sealed when a password is set) move to the new key too.
        if (row.digestHa1 !== null && SecretBox.keyIdOf(row.digestHa1) !== this.secrets.activeKeyId) {
          resealed++;
          await this.credentials.update(tx, row.id, { digestHa1: this.secrets.reseal(row.digestHa1) });
        }
      }
      for (const key of await this.signingKeys.privateKeysForUpdate(tx)) {
        if (SecretBox.keyIdOf(key.privateKey) === this.secrets.activeKeyId) continue;
        resealed++;
        await this.signingKeys.update(tx, key.id, { privateKey: this.secrets.reseal(key.privateKey) });
      }
      // Policy configs hold sealed values anywhere in their JSON (e.g. a token service's client secret).
      for (const proxy of await this.proxies.policiesForUpdate(tx)) {
        let changed = 0;
        const policies = resealDeep(proxy.policies, (sealed) => {
          if (SecretBox.keyIdOf(sealed) === this.secrets.activeKeyId) return sealed;
          changed++;
          return this.secrets.reseal(sealed);
        });
        if (changed === 0) continue;
        resealed += changed;
        await this.proxies.update(tx, proxy.id, { policies });
      }
      // Project secrets' private and shared material, in every version still stored.
      for (const secret of await this.projectSecrets.sealedForUpdate(tx)) {
        let changed = 0;
        const versions = secret.versions.map((v) => {
          if (v.sealed === null || SecretBox.keyIdOf(v.sealed) === this.secrets.activeKeyId) return v;
          changed++;
          return { ...v, sealed: this.secrets.reseal(v.sealed) };
        });
        if (changed === 0) continue;
        resealed += changed;
        await this.projectSecrets.update(tx, secret.id, { versions });
      }
      // Key managers' client secrets, HMAC secrets and TLS client keys.
      for (const row of await this.keyManagers.sealedForUpdate(tx)) {
        const fields = { clientSecret: row.clientSecret, sharedSecret: row.sharedSecret, tlsClientKey: row.tlsClientKey };
        const stale = Object.entries(fields).filter(([, v]) => v !== null && SecretBox.keyIdOf(v) !== this.secrets.activeKeyId);
        if (stale.length === 0) continue;
        resealed += stale.length;
        await this.keyManagers.update(tx, row.id, Object.fromEntries(stale.map(([k, v]) => [k, this.secrets.reseal(v!)])));
      }
      // Identity sources' service-account / database passwords.
      for (const row of await this.identitySources.sealedForUpdate(tx)) {
        if (row.secret === null || SecretBox.keyIdOf(row.secret) === this.secrets.activeKeyId) continue;
        resealed += 1;
        await this.identitySources.update(tx, row.id, { secret: this.secrets.reseal(row.secret) });
      }
      const result = { activeKeyId: this.secrets.activeKeyId, resealed };
      return { result, change: { action: 'rotate', entityKind: 'master_key', entityId: this.secrets.activeKeyId, projectId: null, before: { resealed: 0 }, after: result } };
    });
  }
}

/** Copies a JSON value, passing every sealed string through `reseal`. */
function resealDeep<T>(value: T, reseal: (sealed: string) => string): T {
  if (SecretBox.isSealed(value)) return reseal(value) as T;
  if (Array.isArray(value)) return (value as unknown[]).map((v) => resealDeep(v, reseal)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resealDeep(v, reseal)])) as T;
  return value;
}
