import { isStorableText, toStorableText } from '../../domain/input-rules';

describe('toStorableText', () => {
  it.each([
    ['a NUL', 'a\u0000b', 'a\ufffdb'],
    ['an unpaired high surrogate', 'a\ud800b', 'a\ufffdb'],
    ['an unpaired low surrogate', 'a\udc00b', 'a\ufffdb'],
    ['a high surrogate at the end, as a cut leaves it', 'ab\ud83d', 'ab\ufffd'],
    ['two high surrogates in a row', '\ud800\ud800', '\ufffd\ufffd'],
  ])('replaces %s with U+FFFD', (_case, text, expected) => {
    expect(toStorableText(text)).toBe(expected);
    expect(isStorableText(toStorableText(text))).toBe(true);
  });

  it('leaves storable text as it is, a surrogate pair included', () => {
    const text = 'Grüße 🙂 tab\tnewline\n';
    expect(toStorableText(text)).toBe(text);
  });
});
