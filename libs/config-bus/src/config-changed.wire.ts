import type { ConfigChangedMessage } from './config-changed.message';

/** One upserted entity's JSON inside the wire message: 1-based, inclusive byte positions (Lua's `string.sub`). */
export interface EntitySpan {
  id: string;
  start: number;
  end: number;
}

/** A change as the bus carries it, and where each upserted entity's JSON sits in that text. */
export interface ConfigChangedWire {
  text: string;
  proxies: EntitySpan[];
  credentials: EntitySpan[];
}

/**
 * Encodes `change` exactly as the @nestjs/microservices Redis transport publishes an event
 * (`{"pattern": …, "data": …}`), remembering the byte span of each upserted entity's JSON. The
 * apply script stores those spans as the entities' values and publishes the text itself, so each
 * entity crosses the network once per change instead of twice (Lua call and PUBLISH), and what
 * is stored is byte for byte what the Manager compares with (`JSON.stringify(entity)`).
 */
export function encodeConfigChanged(pattern: string, change: ConfigChangedMessage): ConfigChangedWire {
  const parts: string[] = [];
  let bytes = 0;
  const put = (s: string) => {
    parts.push(s);
    bytes += Buffer.byteLength(s);
  };
  const entities = (upserted: { id: string }[]): EntitySpan[] => {
    const spans: EntitySpan[] = [];
    put('[');
    upserted.forEach((entity, i) => {
      if (i > 0) put(',');
      const start = bytes + 1;
      put(JSON.stringify(entity));
      spans.push({ id: entity.id, start, end: bytes });
    });
    put(']');
    return spans;
  };
  const { proxies: p, credentials: c, signingKeys, keyManagers, identitySources, full, ...head } = change;
  put(`{"pattern":${JSON.stringify(pattern)},"data":${JSON.stringify(head).slice(0, -1)},"proxies":{"upserted":`);
  const proxies = entities(p.upserted);
  put(`,"removed":${JSON.stringify(p.removed)}},"credentials":{"upserted":`);
  const credentials = entities(c.upserted);
  put(`,"removed":${JSON.stringify(c.removed)}}`);
  const rest = { signingKeys, keyManagers, identitySources, full };
  for (const [name, value] of Object.entries(rest)) if (value !== undefined) put(`,${JSON.stringify(name)}:${JSON.stringify(value)}`);
  put('}}');
  return { text: parts.join(''), proxies, credentials };
}

/** Longer than the string values V8's JSON.parse internalizes (kMaxInternalizedStringValueLength, 10). */
export const UNINTERNED_PAD = ' '.repeat(11);
/** A `username` key with a string value; inside a JSON string a quote is always escaped, so this matches keys only. */
const USERNAME_KEY = /"username"\s*:\s*"/g;
/** The key as JSON.stringify writes it (no whitespace). */
const STRINGIFIED_USERNAME_KEY = '"username":"';

/**
 * The `data` of a `config.changed` message as the bus carries it (`encodeConfigChanged`), or
 * undefined when the text is not such a message (the caller treats that as malformed). Parsed
 * with every `username` value padded past the length V8 interns and the padding cut off again:
 * a Manager reconciling a million credentials publishes a million unique usernames, and each one
 * interned grew V8's string table, whose growth rehashes it whole in one step (the stall
 * parseStoredCredential avoids on a full load, issue #13).
 */
export function decodeConfigChanged(text: string): unknown {
  // Padded only when every username key is written the one way JSON.stringify writes it, so each padded value is un-padded, and nothing else is.
  let otherwiseWritten = false;
  const padded = text.replace(USERNAME_KEY, (key) => {
    if (key !== STRINGIFIED_USERNAME_KEY) otherwiseWritten = true;
    return `${key}${UNINTERNED_PAD}`;
  });
  let message: unknown;
  try {
    message = otherwiseWritten || padded === text ? JSON.parse(text) : JSON.parse(padded, unpadUsernames);
  } catch {
    return undefined;
  }
  return typeof message === 'object' && message !== null && 'data' in message ? message.data : undefined;
}

function unpadUsernames(key: string, value: unknown): unknown {
  return key === 'username' && typeof value === 'string' ? value.slice(UNINTERNED_PAD.length) : value;
}
