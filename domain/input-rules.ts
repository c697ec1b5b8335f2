/**
 * What PostgreSQL can store, as plain rules: the API's schemas (api/schemas.ts) are built on
 * them, and workflow validators use them to refuse what an activity could never write. Pure: no
 * zod, no Prisma, no Node built-ins, so workflows may import it.
 */

/** The largest value of a PostgreSQL `integer` column. */
export const MAX_INT4 = 2_147_483_647;

/**
 * Money is integer minor units in `integer` columns (order totals, credit limits, payments), so
 * no amount, and no order total, may exceed what the column holds: 21,474,836.47 in a currency
 * with cents.
 */
export const MAX_MONEY_MINOR = MAX_INT4;

/** The dates the API accepts: PostgreSQL stores far more, but nothing a business books lies outside these. */
export const EARLIEST_DATE = Date.UTC(1900, 0, 1);
export const LATEST_DATE = Date.UTC(2200, 0, 1);

/**
 * Whether text can be stored in a PostgreSQL `text` or `jsonb` value: no NUL character (PostgreSQL
 * refuses it) and no unpaired UTF-16 surrogate (it has no UTF-8 encoding).
 */
export function isStorableText(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === 0) return false;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      index++;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/**
 * `text` made storable (see {@link isStorableText}): each NUL and unpaired surrogate becomes U+FFFD. For text
 * Holdfast records but did not take from a caller, such as another system's error message, which must be
 * kept rather than refused.
 */
export function toStorableText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
