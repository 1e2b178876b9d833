import type Redis from 'ioredis';
import { projectBruteForceSettingsSchema, type ProjectBruteForceSettings } from '@idm/domain';
import { z } from 'zod';
import type { BruteForceSettings } from './brute-force.store';

/**
 * Where the Gateways read the projects' brute-force settings (`ProjectBruteForceSettings` of
 * @idm/domain), written by the Manager.
 *
 * Redis (one Cluster slot through the hash tag `{idm:bf}`; the same for every environment,
 * since a project's settings apply wherever its proxies are deployed):
 * - `{idm:bf}:project-settings`         HASH  project id -> settings JSON
 * - `{idm:bf}:project-settings:events`  pub/sub: `{"project":{"projectId":…,"settings":…|null}}`
 *   after one project's change, `{"reload":true}` after the Manager rewrote the whole hash.
 */
export const projectBruteForceSettingsEventSchema = z.union([
  z.strictObject({ project: z.strictObject({ projectId: z.string().min(1), settings: projectBruteForceSettingsSchema.nullable() }) }),
  z.strictObject({ reload: z.literal(true) }),
]);

export const PROJECT_BRUTE_FORCE_SETTINGS_KEY = '{idm:bf}:project-settings';
export const PROJECT_BRUTE_FORCE_SETTINGS_CHANNEL = `${PROJECT_BRUTE_FORCE_SETTINGS_KEY}:events`;

/**
 * The detectors for a project's credentials: its overrides on the environment's values. A
 * lockout longer than the maximum (one from each side) is cut to the maximum.
 */
export function withProjectOverrides(defaults: BruteForceSettings, overrides: ProjectBruteForceSettings): BruteForceSettings {
  const merged = { ...defaults };
  for (const [field, value] of Object.entries(overrides)) if (value !== undefined) merged[field as keyof ProjectBruteForceSettings] = value;
  merged.lockoutSeconds = Math.min(merged.lockoutSeconds, merged.maxLockoutSeconds);
  return merged;
}

// KEYS[1] hash; ARGV: channel, project id, settings JSON ('' removes). One step, so no Gateway reloads between the write and its message.
const PUT = `
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[2]) else redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
redis.call('PUBLISH', ARGV[1], cjson.encode({ project = { projectId = ARGV[2], settings = ARGV[3] == '' and cjson.null or cjson.decode(ARGV[3]) } }))
return 1
`;

// KEYS[1] hash; ARGV: channel, then project id, settings JSON pairs. Replaces the whole hash.
const REPLACE = `
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PUBLISH', ARGV[1], '{"reload":true}')
return 1
`;

/** The Manager's side: writes the projects' settings where every Gateway reads them, and tells them. */
export class ProjectBruteForceSettingsStore {
  constructor(private readonly redis: Redis) {}

  async put(projectId: string, settings: ProjectBruteForceSettings | null): Promise<void> {
    await this.redis.eval(PUT, 1, PROJECT_BRUTE_FORCE_SETTINGS_KEY, PROJECT_BRUTE_FORCE_SETTINGS_CHANNEL, projectId, settings === null ? '' : JSON.stringify(settings));
  }

  async replaceAll(all: ReadonlyMap<string, ProjectBruteForceSettings>): Promise<void> {
    const args = [...all].flatMap(([projectId, settings]) => [projectId, JSON.stringify(settings)]);
    await this.redis.eval(REPLACE, 1, PROJECT_BRUTE_FORCE_SETTINGS_KEY, PROJECT_BRUTE_FORCE_SETTINGS_CHANNEL, ...args);
  }

  /** What the Gateways read (malformed entries left out). */
  async all(): Promise<Map<string, ProjectBruteForceSettings>> {
    const stored = await this.redis.hgetall(PROJECT_BRUTE_FORCE_SETTINGS_KEY);
    const all = new Map<string, ProjectBruteForceSettings>();
    for (const [projectId, json] of Object.entries(stored)) {
      const parsed = projectBruteForceSettingsSchema.safeParse(parseJson(json));
      if (parsed.success) all.set(projectId, parsed.data);
    }
    return all;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
