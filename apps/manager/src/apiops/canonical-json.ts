/**
 * JSON with every object's keys sorted, so two values that differ only in key order (a JSONB
 * column hands keys back in its own order; a bundle keeps the author's) compare equal. Array
 * order is kept: it means something (policy chains, algorithm preference).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
