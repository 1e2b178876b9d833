/**
 * Where the browser may be sent back after login: a path of this proxy, never another site.
 * Refused: absolute and scheme-relative URLs (`//evil`, `/\evil`, which browsers read as hosts),
 * backslashes, control characters and paths outside the proxy's base path.
 */
export function safeReturnTo(value: string, basePath: string): string | null {
  if (value.length > 2048 || !value.startsWith('/') || value.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value, 'http://gateway.invalid');
  } catch {
    return null;
  }
  if (url.origin !== 'http://gateway.invalid') return null;
  const path = url.pathname;
  // Compared after the URL parser resolved dot segments: `/app/../admin` is not under `/app`.
  if (basePath !== '' && basePath !== '/' && path !== basePath && !path.startsWith(basePath.endsWith('/') ? basePath : basePath + '/')) return null;
  return path + url.search;
}
