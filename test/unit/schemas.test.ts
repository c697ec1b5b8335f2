import { z } from 'zod';
import {
  email,
  int4,
  isoDateTime,
  jsonProblem,
  linkToken,
  money,
  multiLine,
  noBody,
  noQuery,
  pagination,
  phone,
  singleLine,
  storableJson,
} from '../../api/schemas';
import { MAX_INT4, MAX_MONEY_MINOR } from '../../domain/input-rules';

const messagesOf = (schema: z.ZodType, value: unknown): string[] => {
  const result = schema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
};

describe('API input rules (api/schemas.ts)', () => {
  describe('single-line text', () => {
    const name = singleLine(10);

    it('is trimmed and kept when storable', () => {
      expect(name.parse('  Ada  ')).toBe('Ada');
      expect(name.parse('Zoë 🎉')).toBe('Zoë 🎉');
    });

    it('refuses NUL and unpaired surrogates, without quoting the value', () => {
      for (const value of ['a\u0000b', '\u0000', 'a\ud800', '\udc00b', 'x\ud83dy']) {
        const messages = messagesOf(name, value);
        expect(messages).toEqual(['must not contain NUL characters or unpaired surrogates']);
      }
    });

    it('refuses line breaks, tabs and other control characters', () => {
      for (const value of ['a\nb', 'a\rb', 'a\tb', 'a\u0007b', 'a\u007fb']) {
        expect(name.safeParse(value).success).toBe(false);
      }
    });

    it('refuses empty (after trimming) and over-long text', () => {
      expect(name.safeParse('   ').success).toBe(false);
      expect(name.safeParse('x'.repeat(10)).success).toBe(true);
      expect(name.safeParse('x'.repeat(11)).success).toBe(false);
    });

    it('refuses what is not a string', () => {
      for (const value of [42, null, ['a'], { a: 1 }, true]) expect(name.safeParse(value).success).toBe(false);
    });
  });

  describe('multi-line text', () => {
    const note = multiLine(100);

    it('keeps line breaks and tabs inside the text', () => {
      expect(note.parse(' first line\n\tsecond line \r\n')).toBe('first line\n\tsecond line');
    });

    it('refuses NUL, unpaired surrogates and other control characters', () => {
      for (const value of ['a\u0000b', 'a\ud800b', 'a\u0007b', 'a\u001bb']) {
        expect(note.safeParse(value).success).toBe(false);
      }
    });
  });

  it('an email address is at most 254 characters and has no NUL', () => {
    expect(email().parse('ada@example.test')).toBe('ada@example.test');
    expect(email().safeParse('ada\u0000@example.test').success).toBe(false);
    expect(email().safeParse(`${'a'.repeat(64)}@${'b'.repeat(186)}.test`).success).toBe(false);
  });

  it('a phone number is E.164', () => {
    expect(phone().parse('+14155550123')).toBe('+14155550123');
    for (const value of ['4155550123', '+1415555012\u0000', '+1 415 555 0123', '+'.padEnd(40, '1')]) {
      expect(phone().safeParse(value).success).toBe(false);
    }
  });

  it('a link token is bounded and storable', () => {
    expect(linkToken().parse('v2.abc.def')).toBe('v2.abc.def');
    expect(linkToken().safeParse('v2.a\u0000c.def').success).toBe(false);
    expect(linkToken().safeParse('').success).toBe(false);
    expect(linkToken(1, 2048).safeParse('x'.repeat(2049)).success).toBe(false);
  });

  describe('numbers', () => {
    it('int4 accepts its bounds and refuses beyond them, fractions and non-numbers', () => {
      const count = int4(1, MAX_INT4);
      expect(count.parse(1)).toBe(1);
      expect(count.parse(MAX_INT4)).toBe(MAX_INT4);
      for (const value of [0, MAX_INT4 + 1, 1.5, Number.NaN, Infinity, '5', 1e12]) {
        expect(count.safeParse(value).success).toBe(false);
      }
    });

    it('int4 cannot be declared wider than an integer column', () => {
      expect(() => int4(0, MAX_INT4 + 1)).toThrow(RangeError);
      expect(() => int4(-MAX_INT4 - 2, 0)).toThrow(RangeError);
    });

    it('money runs from 0 (or 1) to MAX_MONEY_MINOR in whole minor units', () => {
      expect(money().parse(0)).toBe(0);
      expect(money().parse(MAX_MONEY_MINOR)).toBe(MAX_MONEY_MINOR);
      expect(money(1).safeParse(0).success).toBe(false);
      for (const value of [-1, MAX_MONEY_MINOR + 1, 1e12, 0.5]) expect(money().safeParse(value).success).toBe(false);
    });
  });

  describe('dates', () => {
    const when = isoDateTime();

    it('accepts ISO date-times with an offset inside 1900..2200', () => {
      for (const value of ['2026-12-24T18:00:00Z', '2026-12-24T18:00:00.123+01:00', '1900-01-01T00:00:00Z']) {
        expect(when.parse(value)).toBe(value);
      }
    });

    it('refuses year 0000, far-future and far-past dates, and the first instant of 2200', () => {
      for (const value of [
        '0000-01-01T00:00:00Z',
        '0001-01-01T00:00:00Z',
        '1899-12-31T23:59:59Z',
        '2200-01-01T00:00:00Z',
        '9999-12-31T23:59:59Z',
      ]) {
        expect(when.safeParse(value).success).toBe(false);
      }
    });

    it('refuses dates without an offset, impossible dates and non-strings', () => {
      for (const value of ['2026-12-24', '2026-12-24T18:00:00', '2026-13-01T00:00:00Z', 1767225600000, null]) {
        expect(when.safeParse(value).success).toBe(false);
      }
    });
  });

  describe('JSON for jsonb columns', () => {
    it('accepts plain, storable JSON', () => {
      expect(jsonProblem({ a: [1, 'two', null, true, { b: 'ü' }] })).toBeUndefined();
      expect(storableJson().parse([{ sku: 'A-1' }])).toEqual([{ sku: 'A-1' }]);
    });

    it('finds NUL and unpaired surrogates in nested strings and in keys', () => {
      expect(jsonProblem([{ items: [{ name: 'a\u0000b' }] }])).toMatch(/a string must not contain NUL/);
      expect(jsonProblem({ 'k\u0000': 1 })).toMatch(/a key must not contain NUL/);
      expect(jsonProblem({ deep: { deeper: '\ud800' } })).toMatch(/unpaired surrogates/);
    });

    it('refuses numbers that are not finite and values that are not JSON', () => {
      expect(jsonProblem({ n: Infinity })).toBe('a number is not finite');
      expect(jsonProblem({ n: Number.NaN })).toBe('a number is not finite');
      expect(jsonProblem({ f: () => 1 })).toBe('a function is not JSON');
      expect(jsonProblem({ d: new Date(0) })).toBe('an object is not plain JSON');
    });

    it('bounds depth, size and string length', () => {
      const limits = { maxDepth: 3, maxNodes: 20, maxStringLength: 5 };
      expect(jsonProblem([[['ok']]], limits)).toBeUndefined();
      expect(jsonProblem([[[['too deep']]]], limits)).toBe('nested deeper than 3 levels');
      expect(
        jsonProblem(
          Array.from({ length: 25 }, () => 1),
          limits,
        ),
      ).toBe('more than 20 values');
      expect(jsonProblem(['123456'], limits)).toBe('a string longer than 5 characters');
    });

    it('a very deep document is refused without exhausting the stack', () => {
      let deep: unknown = 'leaf';
      for (let level = 0; level < 100_000; level++) deep = [deep];
      expect(jsonProblem(deep)).toBe('nested deeper than 8 levels');
      expect(storableJson().safeParse(deep).success).toBe(false);
    });
  });

  describe('query and body shapes', () => {
    it('noQuery and noBody refuse anything given', () => {
      expect(noQuery.safeParse({}).success).toBe(true);
      expect(noQuery.safeParse({ x: '1' }).success).toBe(false);
      expect(noBody.safeParse(undefined).success).toBe(true);
      expect(noBody.safeParse({}).success).toBe(true);
      expect(noBody.safeParse({ x: 1 }).success).toBe(false);
    });

    it('pagination bounds limit and offset, with defaults', () => {
      const query = z.object(pagination({ defaultLimit: 50, maxLimit: 200 })).strict();
      expect(query.parse({})).toEqual({ limit: 50, offset: 0 });
      expect(query.parse({ limit: '200', offset: String(MAX_INT4) })).toEqual({ limit: 200, offset: MAX_INT4 });
      for (const value of [
        { limit: '0' },
        { limit: '201' },
        { limit: 'ten' },
        { offset: '-1' },
        { offset: String(MAX_INT4 + 1) },
        { offset: '1e100' },
        { limit: '1.5' },
        { limit: ['1', '2'] },
      ]) {
        expect(query.safeParse(value).success).toBe(false);
      }
    });
  });
});
