/**
 * RFC 4514 escaping of an attribute value placed into a DN (direct bind's `{username}`): the
 * characters with a meaning in DNs become `\XX`, so `admin,ou=x` stays one value. Filters use
 * ldapts' EqualityFilter, which escapes per RFC 4515.
 */
export function escapeDnValue(value: string): string {
  const hex = (c: string) => [...Buffer.from(c, 'utf8')].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
  let escaped = value.replace(/[,\\#+<>;"=\u0000]/g, hex);
  if (escaped.startsWith(' ')) escaped = `\\20${escaped.slice(1)}`;
  if (escaped.endsWith(' ') && escaped.length > 0) escaped = `${escaped.slice(0, -1)}\\20`;
  return escaped;
}

/** The value of a DN's first RDN (`cn=admins,ou=groups,...` -> `admins`): a group's name. */
export function firstRdnValue(dn: string): string {
  const first = /^\s*[^=]+=((?:\\.|[^,+])*)/.exec(dn)?.[1] ?? dn;
  return first.replace(/\\([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\\(.)/g, '$1');
}
