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
