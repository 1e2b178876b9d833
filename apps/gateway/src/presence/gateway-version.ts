import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Gateway's release as its package states it, read once (src/ and dist/ sit at the same depth). */
export function gatewayVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version.slice(0, 64) : 'unknown';
  } catch {
    return 'unknown';
  }
}
