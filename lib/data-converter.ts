import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { type DataConverter, type Payload, type PayloadCodec, type SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { PayloadMasterKey } from './config';
import { isPayloadScope, PLATFORM_SCOPE, scopeOfWorkflowId, type PayloadScope } from './payload-scope';

/**
 * The one data converter of the API's client, the workers, the tests and the scripts: every payload
 * (inputs, results, signals, updates, queries, heartbeats, memos, summaries, and failures' messages and
 * stack traces) is encrypted with AES-256-GCM before it reaches the Temporal server.
 *
 * Keys: a keyring of master keys (PAYLOAD_KEYS; the first encrypts, all decrypt, so a key rotates by
 * putting a new one first) and, per scope (lib/payload-scope.ts: a tenant, an onboarding, the platform),
 * a key derived by HKDF from the master key and a random salt kept in PostgreSQL (PayloadKeyScope).
 * Deleting a scope's salt makes every payload encrypted under it unreadable, wherever it is stored.
 *
 * Payload form, as in Temporal's encryption samples: metadata `encoding: binary/encrypted` and
 * `encryption-key-id` (the master key), plus `encryption-scope`; data is the original payload
 * (protobuf) as `iv ‖ ciphertext ‖ tag`. The key id and scope are authenticated with it, so a payload
 * cannot be relabelled to another tenant. Payloads without that encoding (histories recorded before
 * encryption) pass through decoding unchanged.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_ENCODING = 'encoding';
export const METADATA_KEY_ID = 'encryption-key-id';
export const METADATA_SCOPE = 'encryption-scope';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const FORMAT = 'holdfast-payload-v1';

/** A payload names a master key this process's keyring does not hold. */
export class PayloadKeyUnknownError extends Error {
  constructor(
    readonly keyId: string,
    known: readonly string[],
  ) {
    super(
      `A payload is encrypted with key '${keyId}', which PAYLOAD_KEYS does not hold (it holds: ${known.join(', ')}). ` +
        'Keep retired keys in PAYLOAD_KEYS after the newest one until no history needs them.',
    );
    this.name = 'PayloadKeyUnknownError';
  }
}

/** A scope's key was erased (crypto-shredded): its payloads can no longer be read, or written. */
export class PayloadScopeErasedError extends Error {
  constructor(
    readonly scope: string,
    readonly erasedAt?: Date,
  ) {
    super(
      `The payload keys of ${scope} were erased${erasedAt ? ` on ${erasedAt.toISOString()}` : ''}; its payloads cannot be read`,
    );
    this.name = 'PayloadScopeErasedError';
  }
}

/** A scope has no salt where one is needed to read: its payloads were written against another database. */
export class PayloadScopeUnknownError extends Error {
  constructor(readonly scope: string) {
    super(
      `No payload key exists for ${scope}: its payloads were encrypted against another database, or the key row was deleted`,
    );
    this.name = 'PayloadScopeUnknownError';
  }
}

/** A scope's salt could not be read because its database could not be reached or answered in time. */
export class PayloadSaltsUnreachableError extends Error {
  constructor(
    readonly scope: string,
    options?: { cause?: unknown },
  ) {
    super(`The payload key of ${scope} cannot be read: its database cannot be reached`, options);
    this.name = 'PayloadSaltsUnreachableError';
  }
}

/** An encrypted payload failed authentication: altered, truncated, or not one of ours. */
export class PayloadTamperedError extends Error {
  constructor(readonly scope: string) {
    super(`An encrypted payload of ${scope} failed authentication: it was altered, or was not encrypted by Holdfast`);
    this.name = 'PayloadTamperedError';
  }
}

/** Where each scope's salt lives (PostgreSQL in every process; memory in workflow unit tests). */
export interface ScopeSalts {
  /**
   * The scope's salt; a scope seen for the first time gets one when `create` is set.
   *
   * @throws PayloadScopeErasedError when the scope was erased.
   * @throws PayloadScopeUnknownError when it has none and `create` is not set.
   * @throws PayloadSaltsUnreachableError when the salts' database cannot be reached (an outage).
   */
  saltOf(scope: PayloadScope, options: { create: boolean }): Promise<Buffer>;
}

/**
 * How long after its salt was last read a derived key may still be used while the salts' database cannot be
 * reached: the longest outage the workers ride through without failing on a payload.
 */
export const STALE_KEY_LIMIT_MS = 30 * 60_000;

export interface EncryptionCodecOptions {
  /** The master keys, the one that encrypts first. */
  keys: readonly PayloadMasterKey[];
  salts: ScopeSalts;
  /** How long a derived key is reused before its salt is read again (so an erase reaches this process). */
  keyCacheTtlMs: number;
  now?: () => number;
}

export interface EncryptionCodec extends PayloadCodec {
  /** Encrypts under an explicit scope (the codec server's encode, whose caller names no workflow). */
  encodeInScope(payloads: Payload[], scope: PayloadScope): Promise<Payload[]>;
  /** Forgets the derived keys of a scope at once (after this process erased it). */
  forgetScope(scope: PayloadScope): void;
}

const text = (value: Uint8Array | null | undefined) => (value ? Buffer.from(value).toString('utf8') : undefined);

/** The scope an encrypted payload names, or undefined for a payload that is not encrypted. */
export function encryptedPayloadScope(payload: Payload): string | undefined {
  if (text(payload.metadata?.[METADATA_ENCODING]) !== ENCRYPTED_ENCODING) return undefined;
  return text(payload.metadata?.[METADATA_SCOPE]) ?? '';
}

/** The scope of a payload the SDK encodes in `context`: the workflow's, or the activity's workflow's. */
export function scopeOfContext(context: SerializationContext | undefined): PayloadScope {
  return scopeOfWorkflowId(context?.workflowId);
}

export function createEncryptionCodec(options: EncryptionCodecOptions): EncryptionCodec {
  const [active] = options.keys;
  if (!active) throw new Error('payload encryption needs at least one key (PAYLOAD_KEYS)');
  const masterKeys = new Map(options.keys.map((entry) => [entry.id, entry.key]));
  const now = options.now ?? Date.now;
  const derived = new Map<string, { key: Promise<Buffer>; expiresAt: number }>();
  // The last key each lookup derived: what an outage of the salts' database falls back on.
  const lastDerived = new Map<string, { key: Buffer; at: number }>();
  // Bumped when a scope is forgotten, so that a lookup already under way does not bring its key back.
  const generations = new Map<string, number>();
  let prunedAt = now();

  const aad = (keyId: string, scope: string) => Buffer.from(`${FORMAT}|${keyId}|${scope}`, 'utf8');
  const forget = (scope: string) => {
    generations.set(scope, (generations.get(scope) ?? 0) + 1);
    for (const cache of [derived, lastDerived]) {
      for (const cacheKey of [...cache.keys()]) if (cacheKey.endsWith(`|${scope}`)) cache.delete(cacheKey);
    }
  };
  /** Drops keys no lookup can use any more, so that scopes no longer in use leave memory. */
  const prune = () => {
    if (now() - prunedAt < STALE_KEY_LIMIT_MS) return;
    prunedAt = now();
    for (const [cacheKey, entry] of lastDerived)
      if (prunedAt - entry.at > STALE_KEY_LIMIT_MS) lastDerived.delete(cacheKey);
    for (const [cacheKey, entry] of derived) if (entry.expiresAt <= prunedAt) derived.delete(cacheKey);
  };

  function keyFor(keyId: string, scope: PayloadScope, create: boolean): Promise<Buffer> {
    const master = masterKeys.get(keyId);
    if (!master) return Promise.reject(new PayloadKeyUnknownError(keyId, [...masterKeys.keys()]));
    const cacheKey = `${keyId}|${scope}`;
    const cached = derived.get(cacheKey);
    if (cached && cached.expiresAt > now()) return cached.key;
    prune();
    const generation = generations.get(scope) ?? 0;
    const key = options.salts.saltOf(scope, { create }).then(
      (salt) => {
        const fresh = Buffer.from(hkdfSync('sha256', master, salt, `${FORMAT} ${scope}`, KEY_BYTES));
        if ((generations.get(scope) ?? 0) === generation) lastDerived.set(cacheKey, { key: fresh, at: now() });
        return fresh;
      },
      (error: unknown) => {
        // Only an outage falls back on the key derived before, for a while: without it, a payload the SDK
        // must encode or decode mid-outage fails the whole worker, not just the task. An answer (erased,
        // unknown) ends the fallback for the scope.
        if (error instanceof PayloadScopeErasedError || error instanceof PayloadScopeUnknownError) forget(scope);
        const stale = lastDerived.get(cacheKey);
        if (error instanceof PayloadSaltsUnreachableError && stale && now() - stale.at <= STALE_KEY_LIMIT_MS) {
          return stale.key;
        }
        throw error;
      },
    );
    derived.set(cacheKey, { key, expiresAt: now() + options.keyCacheTtlMs });
    // A failed lookup (an outage, an erased scope) is not remembered: the next payload asks again.
    key.catch(() => {
      if (derived.get(cacheKey)?.key === key) derived.delete(cacheKey);
    });
    return key;
  }

  async function encryptOne(payload: Payload, scope: PayloadScope): Promise<Payload> {
    const key = await keyFor(active!.id, scope, true);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(active!.id, scope));
    const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      metadata: {
        [METADATA_ENCODING]: Buffer.from(ENCRYPTED_ENCODING),
        [METADATA_KEY_ID]: Buffer.from(active!.id),
        [METADATA_SCOPE]: Buffer.from(scope),
      },
      data: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]),
    };
  }

  async function decryptOne(payload: Payload): Promise<Payload> {
    const scope = encryptedPayloadScope(payload);
    if (scope === undefined) return payload;
    const keyId = text(payload.metadata?.[METADATA_KEY_ID]) ?? '';
    if (!isPayloadScope(scope)) throw new PayloadTamperedError(scope || '(no scope)');
    const key = await keyFor(keyId, scope, false);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadTamperedError(scope);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(keyId, scope));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadTamperedError(scope);
    }
    return temporal.api.common.v1.Payload.decode(plaintext);
  }

  return {
    encode: (payloads, context) => {
      const scope = scopeOfContext(context);
      return Promise.all(payloads.map((payload) => encryptOne(payload, scope)));
    },
    encodeInScope: (payloads, scope) => Promise.all(payloads.map((payload) => encryptOne(payload, scope))),
    decode: (payloads) => Promise.all(payloads.map(decryptOne)),
    forgetScope: forget,
  };
}

/** Salts kept in memory: workflow unit tests and scripts that run without a database. */
export function createMemoryScopeSalts(): ScopeSalts & { erase(scope: PayloadScope): void } {
  const salts = new Map<string, Buffer | null>();
  return {
    saltOf(scope, { create }) {
      const salt = salts.get(scope);
      if (salt === null) return Promise.reject(new PayloadScopeErasedError(scope));
      if (salt) return Promise.resolve(salt);
      if (!create) return Promise.reject(new PayloadScopeUnknownError(scope));
      const created = randomBytes(KEY_BYTES);
      salts.set(scope, created);
      return Promise.resolve(created);
    },
    erase(scope) {
      salts.set(scope, null);
    },
  };
}

/** lib/failure-converter.ts, by path: the worker loads it into the workflow bundle as well. */
export const failureConverterPath = require.resolve('./failure-converter');

/**
 * The data converter: the encryption codec, and failures whose message and stack trace travel in an
 * encoded attributes payload (so the codec encrypts them too) instead of in clear.
 */
export function createDataConverter(codec: PayloadCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath };
}

export { PLATFORM_SCOPE };
