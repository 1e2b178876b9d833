import { Inject, Injectable } from '@nestjs/common';
import { SecretBox, type CreateSigningKey, type RotateSigningKey, type SigningAlgorithm, type SigningKeyInfo } from '@idm/domain';
import { isoOrNull } from '@idm/platform';
import { ChangeWriter } from '../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import type { Reads, Tx } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { EnvironmentRepository } from '../repositories/environment.repository';
import { SigningKeyRepository, type SigningKeyRow } from '../repositories/signing-key.repository';
import { EnvironmentTokenLifetimes } from './environment-token-lifetimes';
import { signingKeyMaterial } from './key-material';
import { SigningKeySweeper } from './signing-key-sweeper';

const toInfo = (r: SigningKeyRow): SigningKeyInfo => ({
  id: r.id,
  kid: r.kid,
  algorithm: r.algorithm as SigningAlgorithm,
  publicJwk: r.publicJwk,
  activatesAt: r.activatesAt.toISOString(),
  publishedUntil: isoOrNull(r.publishedUntil),
  createdAt: r.createdAt.toISOString(),
});
const SYSTEM = { projectId: null };

/** Environment signing keys: generate or import, rotate without a gap or a cut-off token; private keys sealed at rest. */
@Injectable()
export class SigningKeysService {
  constructor(
    @Inject(MANAGER_CONFIG) private readonly config: ManagerConfig,
    private readonly keys: SigningKeyRepository,
    private readonly environments: EnvironmentRepository,
    private readonly lifetimes: EnvironmentTokenLifetimes,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
    private readonly sweeper: SigningKeySweeper,
  ) {}

  async list(environmentId: string): Promise<SigningKeyInfo[]> {
    this.permissions.checkAnywhere('environment:read');
    await this.requireEnvironment(environmentId);
    return (await this.keys.listFor(environmentId)).map(toInfo);
  }

  /** The environment's first key, active at once. Later keys come through `rotate`. */
  async create(environmentId: string, input: CreateSigningKey): Promise<SigningKeyInfo> {
    this.permissions.check('environment:write', SYSTEM);
    await this.requireEnvironment(environmentId); // before generating a key (an RSA one blocks for a while)
    const material = signingKeyMaterial(input.algorithm, input.privateKeyPem);
    return this.changes.write(async (tx) => {
      await this.requireEnvironment(environmentId, tx, true);
      if (await this.keys.hasAny(tx, environmentId)) throw ProblemError.conflict('signing_key_exists', 'the environment already has a signing key; rotate it instead');
      const row = await this.insert(tx, environmentId, input.algorithm, material, new Date());
      return { result: toInfo(row), change: { action: 'create', entityKind: 'signing_key', entityId: row.id, projectId: null, before: null, after: row } };
    });
  }

  /**
   * Publishes a new key now and lets it sign only after SIGNING_KEY_ACTIVATION_DELAY_SECONDS, so
   * every Gateway's JWKS has it first. The keys it replaces stay published, for verification only,
   * until every token they signed has expired: by default the longest access-token lifetime the
   * environment's token settings give now (an explicit `retireAfterSeconds` may only be longer);
   * `SigningKeySweeper` drops them after that. A compromised key is the exception: it is retired
   * at once (its tokens stop verifying) and the new key signs without the delay.
   */
  async rotate(environmentId: string, input: RotateSigningKey): Promise<SigningKeyInfo> {
    this.permissions.check('environment:write', SYSTEM);
    await this.requireEnvironment(environmentId); // before generating a key (an RSA one blocks for a while)
    const material = signingKeyMaterial(input.algorithm, input.privateKeyPem);
    const info = await this.changes.write(async (tx) => {
      await this.requireEnvironment(environmentId, tx, true);
      const now = new Date();
      const activatesAt = input.compromised ? now : new Date(now.getTime() + this.config.SIGNING_KEY_ACTIVATION_DELAY_SECONDS * 1000);
      const publishedUntil = input.compromised ? now : new Date(activatesAt.getTime() + (await this.retirementSeconds(tx, environmentId, input.retireAfterSeconds)) * 1000);
      const current = await this.keys.current(tx, environmentId, activatesAt);
      if (current) await this.keys.retireUnreplaced(tx, environmentId, publishedUntil);
      const row = await this.insert(tx, environmentId, input.algorithm, material, current ? activatesAt : now);
      const action = input.compromised ? 'rotate_compromised' : 'rotate';
      return {
        result: toInfo(row),
        change: {
          action,
          entityKind: 'signing_key',
          entityId: row.id,
          projectId: null,
          before: current ?? null,
          after: { ...row, replacedKeyPublishedUntil: current ? publishedUntil : null },
        },
      };
    });
    await this.sweeper.reschedule().catch(() => undefined); // the hourly sweep still finds it
    return info;
  }

  /** How long replaced keys stay published once the new key signs; refuses what would cut off live tokens. */
  private async retirementSeconds(tx: Tx, environmentId: string, requested: number | undefined): Promise<number> {
    const longest = await this.lifetimes.longestAccessTokenSeconds(tx, environmentId);
    if (requested === undefined || requested >= longest) return requested ?? longest;
    throw new ProblemError(
      400,
      'retirement_before_token_expiry',
      'The replaced key would be retired while its tokens are still valid',
      `access tokens in this environment live up to ${longest} seconds; retire after at least that long (or leave retireAfterSeconds out), or rotate with compromised: true to retire the key at once`,
      [{ path: 'retireAfterSeconds', message: `must be at least ${longest}` }],
    );
  }

  private async insert(tx: Tx, environmentId: string, algorithm: SigningAlgorithm, material: ReturnType<typeof signingKeyMaterial>, activatesAt: Date): Promise<SigningKeyRow> {
    return this.keys.insert(tx, { environmentId, kid: material.kid, algorithm, publicJwk: material.publicJwk, privateKey: this.secrets.seal(material.privateKeyPem), activatesAt });
  }

  private async requireEnvironment(id: string, db?: Reads, lock = false): Promise<void> {
    if (!(await this.environments.findById(id, db, lock))) throw ProblemError.notFound('environment', id);
  }
}
