/**
 * Longest-prefix routing on path-segment boundaries: "/demo" serves "/demo" and "/demo/x" but
 * not "/demox". Walks up the request path one segment at a time with a map lookup per step, so
 * the cost depends on the path's depth, not on the number of proxies.
 */
export class BasePathRouter<T> {
  private readonly byBasePath: Map<string, T>;
  private readonly maxDepth: number;

  constructor(entries: Iterable<readonly [basePath: string, target: T]>) {
    this.byBasePath = new Map(entries);
    // A loop, not Math.max(...spread): a spread of 100,000+ base paths overflows the call stack.
    let maxDepth = 0;
    for (const basePath of this.byBasePath.keys()) maxDepth = Math.max(maxDepth, segmentCount(basePath));
    this.maxDepth = maxDepth;
  }

  match(path: string): T | undefined {
    let candidate = path;
    // Skip the segments deeper than any base path without a lookup each.
    let end = candidate.length;
    for (let depth = segmentCount(path); depth > this.maxDepth; depth--) end = candidate.lastIndexOf('/', end - 1);
    candidate = end === path.length ? path : path.slice(0, end);
    while (candidate.length > 1) {
      const target = this.byBasePath.get(candidate);
      if (target !== undefined) return target;
      candidate = candidate.slice(0, candidate.lastIndexOf('/'));
    }
    return undefined;
  }
}

function segmentCount(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47 /* / */) n++;
  return n;
}
