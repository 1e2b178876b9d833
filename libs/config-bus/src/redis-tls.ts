import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * TLS to Redis on every topology: what each connection (a single server, the Sentinels and the
 * master they name, every Cluster node) hands node:tls. The certificate is always verified; these
 * settings only say against which CAs, with which client certificate, and for which name.
 */
export interface RedisTls {
  /** PEM bundle of the CAs to trust instead of the system's. */
  ca?: string;
  /** Client certificate and key (PEM), for servers with `tls-auth-clients yes`. */
  cert?: string;
  key?: string;
  /** Name the certificate must carry and the SNI sent; the address otherwise (Sentinel and Cluster hand out IPs). */
  servername?: string;
}

const path = z.string().min(1).optional();

/** Variables of both apps' configuration schemas for TLS to Redis. */
export const redisTlsEnv = {
  /** TLS to every Redis connection; unset: `rediss://` decides for REDIS_URL, plaintext for Sentinel and Cluster. */
  REDIS_TLS: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true')),
  REDIS_TLS_CA_FILE: path,
  REDIS_TLS_CERT_FILE: path,
  REDIS_TLS_KEY_FILE: path,
  REDIS_TLS_SERVERNAME: z.string().min(1).optional(),
};

type RedisTlsEnv = z.output<z.ZodObject<typeof redisTlsEnv>>;

/**
 * The TLS settings (files read once, here), undefined for plaintext, or the problems. Settings
 * that would have no effect (a CA file without TLS) are refused: an operator who sets them means
 * TLS, and silently connecting in clear is the worst answer.
 */
export function redisTlsOf(env: RedisTlsEnv, urlIsTls: boolean): RedisTls | undefined | string[] {
  const problems: string[] = [];
  if (env.REDIS_TLS === false && urlIsTls) problems.push('REDIS_TLS: false contradicts the rediss:// of REDIS_URL');
  const enabled = env.REDIS_TLS ?? urlIsTls;
  const given = (['REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE', 'REDIS_TLS_SERVERNAME'] as const).filter((name) => env[name] !== undefined);
  if (!enabled) return given.length || problems.length ? [...problems, ...given.map((name) => `${name}: needs TLS (REDIS_TLS=true, or rediss:// in REDIS_URL)`)] : undefined;
  if (!env.REDIS_TLS_CERT_FILE !== !env.REDIS_TLS_KEY_FILE)
    problems.push(`${env.REDIS_TLS_CERT_FILE ? 'REDIS_TLS_KEY_FILE' : 'REDIS_TLS_CERT_FILE'}: required with the other (client certificate and its key)`);
  const read = (name: 'REDIS_TLS_CA_FILE' | 'REDIS_TLS_CERT_FILE' | 'REDIS_TLS_KEY_FILE'): string | undefined => {
    const file = env[name];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return undefined;
    }
  };
  const tls: RedisTls = { ca: read('REDIS_TLS_CA_FILE'), cert: read('REDIS_TLS_CERT_FILE'), key: read('REDIS_TLS_KEY_FILE'), servername: env.REDIS_TLS_SERVERNAME };
  if (problems.length) return problems;
  return Object.fromEntries(Object.entries(tls).filter(([, value]) => value !== undefined));
}
