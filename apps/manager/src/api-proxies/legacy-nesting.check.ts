import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ApiProxyRepository } from '../repositories/api-proxy.repository';

/**
 * Base paths nesting across projects are refused on every write (base-path-claim.ts), but pairs
 * written before that rule still route part of one project's traffic to the other's upstream.
 * They are reported at boot, loudly, for an operator to move one of the two; nothing is changed
 * automatically (either proxy may be the one its callers rely on).
 */
@Injectable()
export class LegacyNestingCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('BasePaths');

  constructor(private readonly proxies: ApiProxyRepository) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const pair of await this.proxies.crossProjectNestings()) {
      this.logger.warn(
        `base path '${pair.inner}' nests inside '${pair.outer}' of another project (written before this was refused): ` +
          `the Gateways send '${pair.inner}/...' to the inner proxy's upstream; move one of them`,
      );
    }
  }
}
