import { signWebhook } from '../lib/webhook-signature';

/**
 * Webhook rules with no I/O: which target URLs and addresses a delivery may reach (server-side
 * request forgery), what a delivery's body and headers are, and how a receiver's answer is judged.
 */

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

/** An IPv4 address as a 32-bit number, or undefined for anything else. */
function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)) {
    return undefined;
  }
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** An IPv6 address (with an embedded IPv4 tail allowed, no zone) as a 128-bit bigint. */
function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-f:.]+$/i.test(text) || text.split('::').length > 2) return undefined;
  let groups: number[] = [];
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const result: number[] = [];
    const pieces = part.split(':');
    for (const [index, piece] of pieces.entries()) {
      if (piece.includes('.') && index === pieces.length - 1) {
        const v4 = parseIpv4(piece);
        if (v4 === undefined) return undefined;
        result.push(Math.floor(v4 / 65536), v4 % 65536);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        result.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return result;
  };
  const [head = '', tail] = text.split('::');
  const headGroups = parseGroups(head);
  const tailGroups = tail === undefined ? [] : parseGroups(tail);
  if (!headGroups || !tailGroups) return undefined;
  if (tail === undefined) {
    if (headGroups.length !== 8) return undefined;
    groups = headGroups;
  } else {
    const missing = 8 - headGroups.length - tailGroups.length;
    if (missing < 1) return undefined;
    groups = [...headGroups, ...new Array<number>(missing).fill(0), ...tailGroups];
  }
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

type ParsedAddress = { family: 4; value: number } | { family: 6; value: bigint };

/** Parses an IP literal; brackets around IPv6 (as in a URL's host) are accepted. */
export function parseAddress(text: string): ParsedAddress | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseIpv4(bare);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(bare);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

interface Range {
  family: 4 | 6;
  base: bigint;
  prefix: number;
}

/** Parses `address/prefix` (or a bare address, a single-address range). */
export function parseCidr(text: string): Range | undefined {
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  const parsed = parseAddress(address);
  if (!parsed || rest.length > 0) return undefined;
  const bits = parsed.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= bits)) return undefined;
  return { family: parsed.family, base: BigInt(parsed.value), prefix };
}

function inRange(address: ParsedAddress, range: Range): boolean {
  if (address.family !== range.family) return false;
  const bits = BigInt(address.family === 4 ? 32 : 128);
  const shift = bits - BigInt(range.prefix);
  return BigInt(address.value) >> shift === range.base >> shift;
}

/** Why an address is no public destination. */
export type AddressClass =
  'UNSPECIFIED' | 'LOOPBACK' | 'PRIVATE' | 'LINK_LOCAL' | 'CGNAT' | 'MULTICAST' | 'RESERVED' | 'DOCUMENTATION';

const blockedRanges: Array<{ range: Range; class: AddressClass }> = (
  [
    { cidr: '0.0.0.0/8', class: 'UNSPECIFIED' },
    { cidr: '10.0.0.0/8', class: 'PRIVATE' },
    { cidr: '100.64.0.0/10', class: 'CGNAT' },
    { cidr: '127.0.0.0/8', class: 'LOOPBACK' },
    { cidr: '169.254.0.0/16', class: 'LINK_LOCAL' },
    { cidr: '172.16.0.0/12', class: 'PRIVATE' },
    { cidr: '192.0.0.0/24', class: 'RESERVED' },
    { cidr: '192.0.2.0/24', class: 'DOCUMENTATION' },
    { cidr: '192.168.0.0/16', class: 'PRIVATE' },
    { cidr: '198.18.0.0/15', class: 'RESERVED' },
    { cidr: '198.51.100.0/24', class: 'DOCUMENTATION' },
    { cidr: '203.0.113.0/24', class: 'DOCUMENTATION' },
    { cidr: '224.0.0.0/4', class: 'MULTICAST' },
    { cidr: '240.0.0.0/4', class: 'RESERVED' },
    { cidr: '::/128', class: 'UNSPECIFIED' },
    { cidr: '::1/128', class: 'LOOPBACK' },
    // IPv4-translated (SIIT): reaches whatever IPv4 address a translator maps it to.
    { cidr: '::ffff:0:0:0/96', class: 'RESERVED' },
    // Local-use NAT64: the translator's own choice of IPv4 range, possibly private.
    { cidr: '64:ff9b:1::/48', class: 'RESERVED' },
    { cidr: '100::/64', class: 'RESERVED' },
    // Teredo: tunnels to an IPv4 host hidden in the address.
    { cidr: '2001::/32', class: 'RESERVED' },
    { cidr: '2001:db8::/32', class: 'DOCUMENTATION' },
    { cidr: 'fc00::/7', class: 'PRIVATE' },
    { cidr: 'fe80::/10', class: 'LINK_LOCAL' },
    { cidr: 'fec0::/10', class: 'PRIVATE' },
    { cidr: 'ff00::/8', class: 'MULTICAST' },
  ] satisfies Array<{ cidr: string; class: AddressClass }>
).map(({ cidr, class: kind }) => ({ range: parseCidr(cidr)!, class: kind }));

/**
 * IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96,
 * NAT64 64:ff9b::/96, 6to4 2002::/16): the embedded address, judged as IPv4.
 */
function embeddedIpv4(address: ParsedAddress): ParsedAddress | undefined {
  if (address.family !== 6) return undefined;
  const value = address.value;
  const low32 = Number(value & 0xffffffffn);
  if (value >> 32n === 0xffffn || value >> 32n === 0n || value >> 32n === 0x64ff9bn << 64n) {
    return { family: 4, value: low32 };
  }
  if (value >> 112n === 0x2002n) return { family: 4, value: Number((value >> 80n) & 0xffffffffn) };
  return undefined;
}

/** The class of a non-public address, or undefined for a public one (or text that is no address). */
export function classifyAddress(text: string): AddressClass | undefined {
  const parsed = parseAddress(text);
  if (!parsed) return undefined;
  const embedded = embeddedIpv4(parsed);
  // ::1 and :: are IPv6's own loopback and unspecified addresses, not embedded IPv4.
  if (embedded && parsed.family === 6 && parsed.value > 1n) return classifyAddress(ipv4Text(embedded.value as number));
  return blockedRanges.find(({ range }) => inRange(parsed, range))?.class;
}

function ipv4Text(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

// ---------------------------------------------------------------------------------------------
// URL policy
// ---------------------------------------------------------------------------------------------

/** The targets an operator allows beyond public addresses: host names (exact) and CIDRs. */
export interface TargetAllowList {
  hosts: string[];
  cidrs: string[];
}

/** Parses WEBHOOK_ALLOWED_TARGETS: comma-separated host names, IP addresses and CIDRs. */
export function parseAllowList(text: string): { allowList: TargetAllowList; invalid: string[] } {
  const allowList: TargetAllowList = { hosts: [], cidrs: [] };
  const invalid: string[] = [];
  for (const entry of text
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean)) {
    if (/^[0-9.]+(\/\d+)?$/.test(entry) || entry.includes(':')) {
      if (parseCidr(entry)) allowList.cidrs.push(entry);
      else invalid.push(entry);
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(entry)) {
      allowList.hosts.push(entry);
    } else {
      invalid.push(entry);
    }
  }
  return { allowList, invalid };
}

export interface UrlPolicy {
  /** Production: only https targets. */
  requireHttps: boolean;
  allowList: TargetAllowList;
}

/** Why a URL or address is refused; the API answers with the code and the worker fails the delivery with it. */
export type TargetRefusal =
  | { code: 'INVALID_URL'; message: string }
  | { code: 'HTTPS_REQUIRED'; message: string }
  | { code: 'ADDRESS_NOT_ALLOWED'; message: string; addressClass: AddressClass };

export const MAX_WEBHOOK_URL_LENGTH = 2048;

const hostAllowed = (host: string, policy: UrlPolicy) => policy.allowList.hosts.includes(host.toLowerCase());

/**
 * Judges a URL as written, before any name is resolved: http(s) only, https when required, no
 * credentials, and an IP-literal host must be public or allowed. A host name still needs
 * {@link checkResolvedAddress} for each address it resolves to.
 */
export function checkWebhookUrl(text: string, policy: UrlPolicy): { url: URL } | { refused: TargetRefusal } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { refused: { code: 'INVALID_URL', message: 'The URL is not an absolute URL' } };
  }
  if (text.length > MAX_WEBHOOK_URL_LENGTH) {
    return { refused: { code: 'INVALID_URL', message: `The URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters` } };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { refused: { code: 'INVALID_URL', message: 'The URL must use https (or http outside production)' } };
  }
  if (policy.requireHttps && url.protocol !== 'https:') {
    return { refused: { code: 'HTTPS_REQUIRED', message: 'The URL must use https' } };
  }
  if (url.username || url.password) {
    return { refused: { code: 'INVALID_URL', message: 'The URL must not carry credentials' } };
  }
  if (parseAddress(url.hostname)) {
    const refusal = checkResolvedAddress(url.hostname, url.hostname, policy);
    if (refusal) return { refused: refusal };
  }
  return { url };
}

/**
 * Judges one address `host` resolved to (or the literal itself): allowed when public, when the
 * host name is on the allow-list, or when the address lies in an allowed CIDR.
 */
export function checkResolvedAddress(host: string, address: string, policy: UrlPolicy): TargetRefusal | undefined {
  const addressClass = classifyAddress(address);
  if (!addressClass) return undefined;
  if (hostAllowed(host.replace(/^\[|\]$/g, ''), policy)) return undefined;
  const parsed = parseAddress(address)!;
  const embedded = parsed.family === 6 && parsed.value > 1n ? embeddedIpv4(parsed) : undefined;
  const candidates = embedded ? [parsed, embedded] : [parsed];
  const allowed = policy.allowList.cidrs.some((cidr) => {
    const range = parseCidr(cidr);
    return range !== undefined && candidates.some((candidate) => inRange(candidate, range));
  });
  if (allowed) return undefined;
  return {
    code: 'ADDRESS_NOT_ALLOWED',
    addressClass,
    message: `The URL resolves to a ${addressClass.toLowerCase().replace('_', '-')} address, which webhooks may not reach`,
  };
}

// ---------------------------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------------------------

/** What a delivery's body holds, read from the OutboxEvent row. */
export interface WebhookEventView {
  id: string;
  key: string;
  type: string;
  occurredAt: Date;
  subjectType: string | null;
  subjectId: string | null;
  payload: unknown;
}

/**
 * The Standard Webhooks body: `type`, `timestamp` (when the event occurred) and `data`, with the
 * event's row ID, the reporter's own event ID (`key`) and the subject it is about.
 */
export function webhookBody(event: WebhookEventView): string {
  return JSON.stringify({
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    id: event.id,
    key: event.key,
    subject: event.subjectType && event.subjectId ? { type: event.subjectType, id: event.subjectId } : null,
    data: event.payload ?? {},
  });
}

/**
 * The headers of one attempt: `webhook-id` (the delivery's ID, the same on every retry and replay,
 * so a receiver can drop repeats), `webhook-timestamp` (this attempt) and `webhook-signature` with a
 * `v1` signature per secret (two during a rotation window).
 */
export function webhookHeaders(
  messageId: string,
  timestampSeconds: number,
  body: string,
  secrets: string[],
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'Holdfast-Webhooks/1',
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((secret) => signWebhook(secret, messageId, timestampSeconds, body)).join(' '),
  };
}

/**
 * What a receiver's status code means: 2xx delivered; 410 gone (disable the endpoint); 408, 429 and
 * 5xx worth retrying; any other status (4xx, or a 1xx/3xx since redirects are not followed) refused.
 */
export type ReceiverVerdict = 'DELIVERED' | 'GONE' | 'RETRY' | 'REFUSED';

export function judgeReceiverStatus(statusCode: number): ReceiverVerdict {
  if (statusCode >= 200 && statusCode < 300) return 'DELIVERED';
  if (statusCode === 410) return 'GONE';
  if (statusCode === 408 || statusCode === 429 || statusCode >= 500) return 'RETRY';
  return 'REFUSED';
}

/** The longest response excerpt kept per attempt. */
export const RESPONSE_EXCERPT_BYTES = 1024;

/** The start of a response body, cut at a UTF-8 boundary and free of NUL (so PostgreSQL stores it). */
export function responseExcerpt(body: Buffer): string {
  const head = body.subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
  // A character cut in two decodes as U+FFFD at the end; drop it.
  return head.replace(/\uFFFD$/, '').replaceAll('\u0000', '');
}

/** The delay a `Retry-After` header asks for, in milliseconds (delta-seconds or an HTTP date), capped at a day. */
export function retryAfterMs(header: string | undefined, now: Date): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  const day = 24 * 60 * 60 * 1000;
  if (/^\d{1,9}$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, day);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - now.getTime()), day);
}
