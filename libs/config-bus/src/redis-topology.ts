import { z } from 'zod';
import { redisTlsEnv, redisTlsOf, type RedisTls } from './redis-tls';

export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Which Redis deployment the installation uses, read once from the environment and shared by
 * every connection of both apps:
 * - `single`: one server at `REDIS_URL` (TLS, ACL user and database from the URL; REDIS_USERNAME /
 *   REDIS_PASSWORD when the URL carries none, as Helm passes them from a Secret);
 * - `sentinel`: a master found through Redis Sentinel (`REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`);
 *   clients follow a failover to the promoted replica;
 * - `cluster`: a Redis Cluster reached through any of `REDIS_CLUSTER_NODES` (database 0 only).
 * `tls` (any mode; `REDIS_TLS`, or `rediss://`): every connection of the deployment speaks TLS
 * with these settings — the server, the Sentinels and the master, each Cluster node.
 */
export type RedisTopology = (
  | { mode: 'single'; url: string; username?: string; password?: string }
  | { mode: 'sentinel'; sentinels: RedisNode[]; masterName: string; username?: string; password?: string; sentinelPassword?: string }
  | { mode: 'cluster'; nodes: RedisNode[]; username?: string; password?: string }
) & { tls?: RedisTls };

const NODE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

function nodeList(value: string, ctx: z.RefinementCtx): RedisNode[] {
  const nodes: RedisNode[] = [];
  for (const item of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = NODE.exec(item);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not host:port` });
      return z.NEVER;
    }
    nodes.push({ host: match[1].replace(/^\[(.*)\]$/, '$1'), port });
  }
  if (nodes.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'must list at least one host:port' });
    return z.NEVER;
  }
  return nodes;
}

const nodes = z.string().transform(nodeList).optional();
const secret = z.string().min(1).optional();

/** Variables of both apps' configuration schemas that choose and reach the Redis deployment. */
export const redisTopologyEnv = {
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).default('redis://127.0.0.1:6379'),
  /** Comma-separated host:port of the Sentinels; with REDIS_SENTINEL_MASTER, replaces REDIS_URL. */
  REDIS_SENTINELS: nodes,
  REDIS_SENTINEL_MASTER: z.string().min(1).optional(),
  /** Comma-separated host:port of some Cluster nodes (the rest are discovered); replaces REDIS_URL. */
  REDIS_CLUSTER_NODES: nodes,
  /** ACL user and password of the data nodes (with REDIS_URL: when the URL carries none). */
  REDIS_USERNAME: secret,
  REDIS_PASSWORD: secret,
  /** Password of the Sentinels themselves, when they require one. */
  REDIS_SENTINEL_PASSWORD: secret,
  ...redisTlsEnv,
};

type RedisTopologyEnv = z.output<z.ZodObject<typeof redisTopologyEnv>>;

/** The deployment the variables describe, or the problems (variable: reason) that make it ambiguous. */
export function redisTopologyOf(env: RedisTopologyEnv): RedisTopology | string[] {
  const topology = redisDeploymentOf(env);
  const urlIsTls = !Array.isArray(topology) && topology.mode === 'single' && topology.url.startsWith('rediss:');
  const tls = redisTlsOf(env, urlIsTls);
  if (Array.isArray(topology) || Array.isArray(tls)) return [...(Array.isArray(topology) ? topology : []), ...(Array.isArray(tls) ? tls : [])];
  return tls ? { ...topology, tls } : topology;
}

function redisDeploymentOf(env: RedisTopologyEnv): RedisTopology | string[] {
  const credentials = { ...(env.REDIS_USERNAME && { username: env.REDIS_USERNAME }), ...(env.REDIS_PASSWORD && { password: env.REDIS_PASSWORD }) };
  if (env.REDIS_SENTINELS && env.REDIS_CLUSTER_NODES) return ['REDIS_CLUSTER_NODES: cannot be combined with REDIS_SENTINELS (choose Sentinel or Cluster)'];
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_SENTINEL_MASTER) return ['REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS (the master name the Sentinels monitor)'];
    return {
      mode: 'sentinel',
      sentinels: env.REDIS_SENTINELS,
      masterName: env.REDIS_SENTINEL_MASTER,
      ...credentials,
      ...(env.REDIS_SENTINEL_PASSWORD && { sentinelPassword: env.REDIS_SENTINEL_PASSWORD }),
    };
  }
  if (env.REDIS_SENTINEL_MASTER) return ['REDIS_SENTINELS: required with REDIS_SENTINEL_MASTER'];
  if (env.REDIS_CLUSTER_NODES) return { mode: 'cluster', nodes: env.REDIS_CLUSTER_NODES, ...credentials };
  return { mode: 'single', url: env.REDIS_URL, ...credentials };
}

/** host:port of every node the configuration names (no proxy may target them). */
export function redisNodesOf(topology: RedisTopology): RedisNode[] {
  switch (topology.mode) {
    case 'single': {
      const u = new URL(topology.url);
      return [{ host: u.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost', port: Number(u.port) || 6379 }];
    }
    case 'sentinel':
      return topology.sentinels;
    case 'cluster':
      return topology.nodes;
  }
}
