/**
 * Indexes rows by a key in one pass, keeping their order within each group, so joining children
 * to parents in memory is linear rather than a scan of all children per parent.
 */
export function groupBy<T, K>(rows: readonly T[], key: (row: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}
