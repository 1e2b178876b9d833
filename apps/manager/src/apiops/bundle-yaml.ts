import { stringify, type ScalarTag } from 'yaml';

/**
 * Characters the `yaml` writer leaves raw but other parsers refuse or rewrite: DEL and the C1
 * controls are not printable in YAML (PyYAML rejects the whole document), NEL, LS and PS are line
 * breaks to YAML 1.1 parsers (a description would silently change), and a BOM or a noncharacter
 * inside a document is not allowed. Lone surrogates and C0 controls the writer already escapes.
 */
const NEEDS_ESCAPE = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;
const NEEDS_ESCAPE_ALL = new RegExp(NEEDS_ESCAPE.source, 'g');

/**
 * Strings holding such a character are written as a JSON string literal with them \u-escaped:
 * a JSON string is a valid YAML double-quoted scalar, and on one line nothing folds it. Every
 * other string keeps the writer's usual (plain when possible) style.
 */
const escapedString: ScalarTag = {
  tag: 'tag:yaml.org,2002:str',
  default: true,
  identify: (value) => typeof value === 'string' && NEEDS_ESCAPE.test(value),
  resolve: (source) => source, // only ever used to write
  stringify: (item) => JSON.stringify(String(item.value)).replace(NEEDS_ESCAPE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
};

/** A bundle (or any JSON value) as YAML that every YAML 1.1 and 1.2 parser reads back unchanged. */
export function toPortableYaml(value: unknown): string {
  // Ahead of the built-in string tag, which would otherwise claim every string first.
  return stringify(value, { customTags: (tags) => [escapedString, ...tags] });
}
