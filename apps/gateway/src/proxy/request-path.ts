/**
 * True when the path (after the base path) holds a dot segment, plain or percent-encoded. Such
 * a path could climb out of the upstream's base path once the upstream normalizes it, reaching
 * what the proxy never exposed; it is refused rather than forwarded.
 */
export function hasDotSegment(path: string): boolean {
  if (path.indexOf('.') === -1 && path.indexOf('%') === -1) return false; // the common case
  for (const segment of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      decoded = segment;
    }
    if (/(^|[/\\])\.\.?([/\\]|$)/.test(decoded)) return true;
  }
  return false;
}
