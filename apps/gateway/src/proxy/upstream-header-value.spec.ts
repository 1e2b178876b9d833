import { upstreamHeaderValue } from './upstream-header-value';

const decode = (word: string) => Buffer.from(/^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/.exec(word)![1], 'base64').toString('utf8');

describe('upstreamHeaderValue', () => {
  it.each(['alice', 'reader,writer', 'a b\tc', '{"k":"v"}', '', 'x=?y'])('passes printable ASCII %j as it is', (value) => {
    expect(upstreamHeaderValue(value)).toBe(value);
  });

  it.each([
    ['CR/LF', 'a\r\nX-Injected: 1'],
    ['NUL', 'a\0b'],
    ['DEL', 'a\x7fb'],
    ['Latin-1', 'Zoë'],
    ['outside Latin-1', '李'],
    ['an emoji (surrogate pair)', '🙂'],
    ['leading space', ' a'],
    ['trailing tab', 'a\t'],
    ['something that looks encoded', '=?UTF-8?B?YQ==?='],
  ])('encodes %s as an RFC 2047 encoded-word that decodes to the exact value', (_, value) => {
    const encoded = upstreamHeaderValue(value);
    expect(encoded).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]*\?=$/);
    expect(decode(encoded)).toBe(value);
  });
});
