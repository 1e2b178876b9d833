import { hmacMinKeyBytes, SecretBox } from '@idm/domain';
import { Injectable } from '@nestjs/common';
import type { Reads } from '../database/database';
import { ProblemError } from '../problems/problem.error';
import { ProjectSecretRepository } from '../repositories/project-secret.repository';

/** The key manager fields that name a project secret, and what each uses it for. */
export type KeyManagerSecretField = 'clientSecretId' | 'sharedSecretId';
const USE: Record<KeyManagerSecretField, string> = { clientSecretId: 'a client secret', sharedSecretId: 'an HMAC key' };
const INLINE: Record<KeyManagerSecretField, string> = { clientSecretId: 'clientSecret', sharedSecretId: 'sharedSecret' };

/**
 * Which project secret a key manager may take its introspection client secret (clientSecretId) or
 * its HS* key (sharedSecretId) from: an existing `shared-secret` of the key manager's own project.
 * A System key manager serves every project, so no one project's secret may feed it. Checked when
 * the key manager is saved, so a typo or another project's id is a 422 at once rather than tokens
 * that fail at the Gateway.
 */
@Injectable()
export class KeyManagerSecretCheck {
  constructor(
    private readonly secrets: ProjectSecretRepository,
    private readonly box: SecretBox,
  ) {}

  /** `algorithms`: for sharedSecretId, every usable version must be long enough for the longest HS* listed (RFC 7518 §3.2). */
  async require(
    db: Reads,
    projectId: string | null,
    secretId: string | null | undefined,
    field: KeyManagerSecretField = 'clientSecretId',
    algorithms: readonly string[] = [],
  ): Promise<void> {
    if (secretId === null || secretId === undefined) return;
    if (projectId === null) throw refused(field, `a System key manager cannot use project secret ${secretId}; give ${INLINE[field]} instead`);
    const [secret] = await this.secrets.ofProject(projectId, [secretId], db);
    // One answer for "does not exist" and "of another project": nothing about other projects leaks.
    if (secret === undefined) throw refused(field, `no secret ${secretId} in this project`);
    if (secret.kind !== 'shared-secret') throw refused(field, `secret ${secret.name} is a ${secret.kind}; ${USE[field]} needs a shared-secret`);
    const minBytes = field === 'sharedSecretId' ? hmacMinKeyBytes(algorithms) : 0;
    const short = secret.versions.find((v) => v.sealed !== null && this.keyBytes(v.sealed) < minBytes);
    if (short) throw refused(field, `version ${short.version} of secret ${secret.name} is shorter than the ${minBytes} bytes ${algorithms.join(', ')} needs (RFC 7518 §3.2)`);
  }

  /** A shared-secret version's length: its sealed oct JWK's `k`, decoded. */
  private keyBytes(sealed: string): number {
    const { k } = JSON.parse(this.box.open(sealed)) as { k?: string };
    return Buffer.from(k ?? '', 'base64url').length;
  }
}

const refused = (field: KeyManagerSecretField, message: string) =>
  new ProblemError(422, 'secret_not_usable', 'The project secret named by the key manager cannot be used here', message, [{ path: field, message }]);
