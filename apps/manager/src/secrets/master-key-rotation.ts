import { Injectable } from '@nestjs/common';
import { SecretBox } from '@idm/domain';
import { eq } from 'drizzle-orm';
import { ChangeWriter } from '../audit/change-writer';
import { apiProxies, credentials, signingKeys, type StoredMetadataEntry } from '../database/schema';

/**
 * Re-encrypts every sealed secret under the active master key, in one audited transaction.
 * Every column that holds sealed values is listed here, so nothing is left under an old key.
 */
@Injectable()
export class MasterKeyRotation {
  constructor(
    private readonly changes: ChangeWriter,
    private readonly secrets: SecretBox,
  ) {}

  run(): Promise<{ activeKeyId: string; resealed: number }> {
    return this.changes.write(async (tx) => {
      let resealed = 0;
      const rows = await tx.select({ id: credentials.id, metadata: credentials.metadata, digestHa1: credentials.digestHa1 }).from(credentials).for('update');
      for (const row of rows) {
        const metadata = row.metadata.map((entry): StoredMetadataEntry => {
          if (!entry.secret || SecretBox.keyIdOf(entry.value) === this.secrets.activeKeyId) return entry;
          resealed++;
          return { ...entry, value: this.secrets.reseal(entry.value) };
        });
        if (metadata.some((entry, i) => entry !== row.metadata[i])) await tx.update(credentials).set({ metadata }).where(eq(credentials.id, row.id));
        // Digest HA1 values (sealed when a password is set) move to the new key too.
        if (row.digestHa1 !== null && SecretBox.keyIdOf(row.digestHa1) !== this.secrets.activeKeyId) {
          resealed++;
          await tx.update(credentials).set({ digestHa1: this.secrets.reseal(row.digestHa1) }).where(eq(credentials.id, row.id));
        }
      }
      for (const key of await tx.select({ id: signingKeys.id, privateKey: signingKeys.privateKey }).from(signingKeys).for('update')) {
        if (SecretBox.keyIdOf(key.privateKey) === this.secrets.activeKeyId) continue;
        resealed++;
        await tx.update(signingKeys).set({ privateKey: this.secrets.reseal(key.privateKey) }).where(eq(signingKeys.id, key.id));
      }
      // Policy configs hold sealed values anywhere in their JSON (e.g. a token service's client secret).
      for (const proxy of await tx.select({ id: apiProxies.id, policies: apiProxies.policies }).from(apiProxies).for('update')) {
        let changed = 0;
        const policies = resealDeep(proxy.policies, (sealed) => {
          if (SecretBox.keyIdOf(sealed) === this.secrets.activeKeyId) return sealed;
          changed++;
          return this.secrets.reseal(sealed);
        });
        if (changed === 0) continue;
        resealed += changed;
        await tx.update(apiProxies).set({ policies }).where(eq(apiProxies.id, proxy.id));
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
