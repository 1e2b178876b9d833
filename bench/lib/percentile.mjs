/** Nearest-rank percentile (q in 0..1) of numbers; null for none. With n < 100, p99 is the maximum. */
export function percentile(xs, q) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
