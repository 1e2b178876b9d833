/**
 * Where `value` (a parsed JSON body or query string) holds a NUL character, in a string or an
 * object key, as a dotted path; undefined when it holds none. PostgreSQL text cannot store NUL,
 * so such input would fail in the driver as a 500 (with the failed SQL in the log); the
 * validation layer refuses it first, for every route at once.
 */
export function findNulByte(value: unknown, path: (string | number)[] = []): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? pathOf(path) : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNulByte(value[i], [...path, i]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, member] of Object.entries(value)) {
    if (key.includes('\u0000')) return pathOf([...path, key.replaceAll('\u0000', '\\u0000')]);
    const found = findNulByte(member, [...path, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

const pathOf = (path: (string | number)[]) => (path.length ? path.join('.') : '(root)');
