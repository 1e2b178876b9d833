import type { Tx } from '../database/database';
import type { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import type { ApiProxyRepository } from '../repositories/api-proxy.repository';

/**
 * Claims `basePath` for a proxy of `projectId` inside the write's transaction. The Gateway routes
 * by the longest base path, so a proxy nested in another's path ("/demo/hello" under "/demo", or
 * "/demo" around "/demo/hello") takes part of that proxy's traffic, with its callers' API keys and
 * tokens. Across projects that is refused outright, installation-wide like base-path uniqueness
 * (a path not deployed yet is still reserved, so a later deploy cannot turn into a hijack).
 * Inside one project it needs the right to change the other proxy.
 *
 * The advisory lock is held to the end of the transaction, so two concurrent creates cannot both
 * pass the check; it also works on PGlite, and within an APIops batch it lasts for the batch.
 */
export async function claimBasePath(
  tx: Tx,
  proxies: ApiProxyRepository,
  permissions: PermissionService,
  claim: { projectId: string; basePath: string; proxyId?: string },
): Promise<void> {
  await proxies.lockBasePaths(tx);
  const { basePath, projectId, proxyId } = claim;
  for (const other of await proxies.nestedWith(tx, basePath, proxyId)) {
    const relation = basePath.startsWith(other.basePath + '/') ? 'inside' : 'around';
    if (other.projectId !== projectId) {
      throw ProblemError.conflict('base_path_nested', `base path '${basePath}' would nest ${relation} '${other.basePath}', which belongs to another project`, 'basePath');
    }
    // Same project: taking part of that proxy's traffic is changing that proxy.
    permissions.check('proxy:write', other);
  }
}
