import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import {
  ActivityFailure,
  ApplicationFailure,
  defaultPayloadConverter,
  RetryState,
  type Payload,
  type SerializationContext,
} from '@temporalio/common';
import {
  decodeOptionalFailureToOptionalError,
  encodeErrorToFailure,
  loadDataConverter,
} from '@temporalio/common/lib/internal-non-workflow';
import {
  createDataConverter,
  createEncryptionCodec,
  PayloadSaltsUnreachableError,
  STALE_KEY_LIMIT_MS,
  createMemoryScopeSalts,
  ENCRYPTED_ENCODING,
  encryptedPayloadScope,
  METADATA_ENCODING,
  METADATA_KEY_ID,
  METADATA_SCOPE,
  PayloadKeyUnknownError,
  PayloadScopeErasedError,
  PayloadScopeUnknownError,
  PayloadTamperedError,
  scopeOfContext,
  type EncryptionCodec,
} from '../../lib/data-converter';
import { readableFailure, summarizeFailure } from '../../api/services/operations/temporal-records';
import type { PayloadMasterKey } from '../../lib/config';
import { tenantScope, type PayloadScope } from '../../lib/payload-scope';

const k1: PayloadMasterKey = { id: 'k1', key: randomBytes(32) };
const k2: PayloadMasterKey = { id: 'k2', key: randomBytes(32) };
const TTL_MS = 30_000;

const tenantA = tenantScope('3f1c2a9e-aaaa-4000-8000-000000000001');
const tenantB = tenantScope('3f1c2a9e-bbbb-4000-8000-000000000002');

/** A workflow of tenant A, as the SDK names it when it encodes that workflow's payloads. */
const workflowOfA: SerializationContext = {
  type: 'workflow',
  namespace: 'default',
  workflowId: `waitlist:${tenantA.slice('tenant/'.length)}:slot-1`,
};

const text = (value: Uint8Array | null | undefined) => Buffer.from(value ?? new Uint8Array()).toString('utf8');
const metadataOf = (payload: Payload) =>
  Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, text(value)]));

/** Payloads as the SDK's converter makes them: JSON, bytes, null (no data at all), and extra metadata. */
function samplePayloads(): Payload[] {
  return [
    defaultPayloadConverter.toPayload({ customer: 'Ada Lovelace', email: 'ada@example.com', seats: 2 }),
    defaultPayloadConverter.toPayload(new Uint8Array([0, 1, 2, 254, 255])),
    defaultPayloadConverter.toPayload(null),
    defaultPayloadConverter.toPayload(''),
    {
      metadata: { encoding: Buffer.from('json/plain'), 'message-type': Buffer.from('offer.v2') },
      data: Buffer.from('{}'),
    },
  ];
}

function codecWith(
  keys: PayloadMasterKey[],
  salts = createMemoryScopeSalts(),
  now?: () => number,
): { codec: EncryptionCodec; salts: ReturnType<typeof createMemoryScopeSalts> } {
  return { codec: createEncryptionCodec({ keys, salts, keyCacheTtlMs: TTL_MS, now }), salts };
}

async function encryptOne(codec: EncryptionCodec, scope: PayloadScope = tenantA): Promise<Payload> {
  const [payload] = await codec.encodeInScope([defaultPayloadConverter.toPayload({ name: 'Ada Lovelace' })], scope);
  return payload!;
}

/** The same payload with its data changed by `change`. */
function withData(payload: Payload, change: (data: Buffer) => Buffer): Payload {
  return { metadata: { ...payload.metadata }, data: change(Buffer.from(payload.data!)) };
}

function flipByte(data: Buffer, index: number): Buffer {
  const copy = Buffer.from(data);
  const at = index < 0 ? copy.length + index : index;
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

describe('the payload encryption codec', () => {
  it('round-trips payloads of every encoding, metadata included, and nothing readable reaches the server', async () => {
    const { codec } = codecWith([k1]);
    const originals = samplePayloads();

    const encoded = await codec.encode(originals, workflowOfA);
    const decoded = await codec.decode(encoded);

    expect(decoded).toHaveLength(originals.length);
    decoded.forEach((payload, index) => {
      expect(metadataOf(payload)).toEqual(metadataOf(originals[index]!));
      expect(Buffer.from(payload.data ?? new Uint8Array())).toEqual(
        Buffer.from(originals[index]!.data ?? new Uint8Array()),
      );
    });
    expect(defaultPayloadConverter.fromPayload(decoded[0]!)).toEqual({
      customer: 'Ada Lovelace',
      email: 'ada@example.com',
      seats: 2,
    });
    expect(defaultPayloadConverter.fromPayload(decoded[2]!)).toBeNull();
    for (const payload of encoded) {
      expect(metadataOf(payload)).toEqual({
        [METADATA_ENCODING]: ENCRYPTED_ENCODING,
        [METADATA_KEY_ID]: 'k1',
        [METADATA_SCOPE]: tenantA,
      });
    }
    const wire = Buffer.concat(encoded.map((payload) => Buffer.from(payload.data!))).toString('latin1');
    for (const clear of ['Ada', 'example.com', 'json/plain', 'offer.v2']) expect(wire).not.toContain(clear);
  });

  it('encrypts the same payload differently each time (a fresh IV per payload)', async () => {
    const { codec } = codecWith([k1]);
    const payload = defaultPayloadConverter.toPayload('same');

    const [first, second] = await codec.encode([payload, payload], workflowOfA);

    expect(Buffer.from(first!.data!)).not.toEqual(Buffer.from(second!.data!));
    expect(await codec.decode([first!, second!])).toEqual([
      expect.objectContaining({ data: payload.data }),
      expect.objectContaining({ data: payload.data }),
    ]);
  });

  it('encodes and decodes an empty list', async () => {
    const { codec } = codecWith([k1]);

    expect(await codec.encode([], workflowOfA)).toEqual([]);
    expect(await codec.decode([])).toEqual([]);
  });

  it('after a rotation, payloads written under the old key still decode and new payloads name the new key', async () => {
    const salts = createMemoryScopeSalts();
    const before = codecWith([k1], salts).codec;
    const after = codecWith([k2, k1], salts).codec;
    const old = await encryptOne(before);

    const fresh = await encryptOne(after);

    expect(metadataOf(old)[METADATA_KEY_ID]).toBe('k1');
    expect(metadataOf(fresh)[METADATA_KEY_ID]).toBe('k2');
    const decoded = await after.decode([old, fresh]);
    expect(decoded.map((payload) => defaultPayloadConverter.fromPayload(payload))).toEqual([
      { name: 'Ada Lovelace' },
      { name: 'Ada Lovelace' },
    ]);
  });

  it('a payload under a key the keyring does not hold is reported by key id, with the ids it holds', async () => {
    const salts = createMemoryScopeSalts();
    const old = await encryptOne(codecWith([k1], salts).codec);
    const k3: PayloadMasterKey = { id: 'k3', key: randomBytes(32) };

    const failure = codecWith([k2, k3], salts).codec.decode([old]);

    await expect(failure).rejects.toThrow(PayloadKeyUnknownError);
    await expect(failure).rejects.toMatchObject({ keyId: 'k1' });
    await expect(failure).rejects.toThrow(/key 'k1'.*holds: k2, k3/);
  });

  describe('rejects a payload that was altered', () => {
    it.each<[string, (payload: Payload) => Payload]>([
      ['a ciphertext byte flipped', (payload) => withData(payload, (data) => flipByte(data, 14))],
      ['an IV byte flipped', (payload) => withData(payload, (data) => flipByte(data, 0))],
      ['a tag byte flipped', (payload) => withData(payload, (data) => flipByte(data, -1))],
      ['its last bytes cut off', (payload) => withData(payload, (data) => data.subarray(0, data.length - 4))],
      ['cut shorter than an IV and a tag', (payload) => withData(payload, (data) => data.subarray(0, 20))],
      ['no data at all', (payload) => ({ metadata: payload.metadata })],
      [
        'its scope relabelled to another tenant',
        (payload) => ({ ...payload, metadata: { ...payload.metadata, [METADATA_SCOPE]: Buffer.from(tenantB) } }),
      ],
      [
        'its key id relabelled to another key of the keyring',
        (payload) => ({ ...payload, metadata: { ...payload.metadata, [METADATA_KEY_ID]: Buffer.from('k1') } }),
      ],
      [
        'a scope no Holdfast payload has',
        (payload) => ({ ...payload, metadata: { ...payload.metadata, [METADATA_SCOPE]: Buffer.from('tenant/../x') } }),
      ],
    ])('%s', async (_, alter) => {
      const { codec } = codecWith([k2, k1]);
      // Both tenants hold a key, so a relabelled payload fails authentication rather than a lookup.
      await encryptOne(codec, tenantB);
      const payload = await encryptOne(codec, tenantA);

      await expect(codec.decode([alter(payload)])).rejects.toThrow(PayloadTamperedError);
    });
  });

  it('after a scope is erased, its payloads neither decode nor encode, and other scopes are untouched', async () => {
    const { codec, salts } = codecWith([k1]);
    const ofA = await encryptOne(codec, tenantA);
    const ofB = await encryptOne(codec, tenantB);

    salts.erase(tenantA);
    codec.forgetScope(tenantA);

    await expect(codec.decode([ofA])).rejects.toThrow(PayloadScopeErasedError);
    await expect(codec.decode([ofA])).rejects.toMatchObject({ scope: tenantA });
    await expect(codec.encode([defaultPayloadConverter.toPayload('new')], workflowOfA)).rejects.toThrow(
      PayloadScopeErasedError,
    );
    const [decodedB] = await codec.decode([ofB]);
    expect(defaultPayloadConverter.fromPayload(decodedB!)).toEqual({ name: 'Ada Lovelace' });
  });

  it('an erase made by another process reaches this one once its derived key expires', async () => {
    let now = 1_000_000;
    const { codec, salts } = codecWith([k1], createMemoryScopeSalts(), () => now);
    const payload = await encryptOne(codec);

    salts.erase(tenantA);
    now += TTL_MS + 1;

    await expect(codec.decode([payload])).rejects.toThrow(PayloadScopeErasedError);
  });

  describe("while the salts' database cannot be reached", () => {
    /** Memory salts that fail like an unreachable database while `down` is set. */
    function saltsWithOutage() {
      const salts = createMemoryScopeSalts();
      const state = { down: false };
      return {
        state,
        salts: {
          ...salts,
          saltOf: (scope: PayloadScope, options: { create: boolean }) =>
            state.down
              ? Promise.reject(
                  new PayloadSaltsUnreachableError(scope, { cause: new Error("Can't reach database server") }),
                )
              : salts.saltOf(scope, options),
        },
      };
    }

    it('keeps encoding and decoding a scope with the key it derived before the outage', async () => {
      let now = 1_000_000;
      const { state, salts } = saltsWithOutage();
      const codec = createEncryptionCodec({ keys: [k1], salts, keyCacheTtlMs: TTL_MS, now: () => now });
      const before = await encryptOne(codec);

      state.down = true;
      now += TTL_MS + 1;
      const [decoded] = await codec.decode([before]);
      const during = await encryptOne(codec);
      state.down = false;

      expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ name: 'Ada Lovelace' });
      const [decodedLater] = await codec.decode([during]);
      expect(defaultPayloadConverter.fromPayload(decodedLater!)).toEqual({ name: 'Ada Lovelace' });
    });

    it('never falls back once the database answered that the scope was erased, even in a later outage', async () => {
      let now = 1_000_000;
      const { state, salts } = saltsWithOutage();
      const codec = createEncryptionCodec({ keys: [k1], salts, keyCacheTtlMs: TTL_MS, now: () => now });
      const before = await encryptOne(codec);

      salts.erase(tenantA);
      now += TTL_MS + 1;
      await expect(codec.decode([before])).rejects.toThrow(PayloadScopeErasedError);
      state.down = true;
      now += TTL_MS + 1;

      await expect(codec.decode([before])).rejects.toThrow(PayloadSaltsUnreachableError);
    });

    it('falls back only for an outage, not for any other failure to read the salt', async () => {
      let now = 1_000_000;
      const memory = createMemoryScopeSalts();
      let failing = false;
      const salts = {
        ...memory,
        saltOf: (scope: PayloadScope, options: { create: boolean }) =>
          failing ? Promise.reject(new Error('column "salt" does not exist')) : memory.saltOf(scope, options),
      };
      const codec = createEncryptionCodec({ keys: [k1], salts, keyCacheTtlMs: TTL_MS, now: () => now });
      const before = await encryptOne(codec);

      failing = true;
      now += TTL_MS + 1;

      await expect(codec.decode([before])).rejects.toThrow('column "salt" does not exist');
    });

    it('fails once the last key read is older than the limit, and for a scope it never read', async () => {
      let now = 1_000_000;
      const { state, salts } = saltsWithOutage();
      const codec = createEncryptionCodec({ keys: [k1], salts, keyCacheTtlMs: TTL_MS, now: () => now });
      const before = await encryptOne(codec);

      state.down = true;
      await expect(encryptOne(codec, tenantB)).rejects.toThrow(PayloadSaltsUnreachableError);
      now += STALE_KEY_LIMIT_MS + 1;
      await expect(codec.decode([before])).rejects.toThrow(PayloadSaltsUnreachableError);
    });
  });

  it('a scope with no key in this database is reported as unknown, not as tampered', async () => {
    const payload = await encryptOne(codecWith([k1]).codec);

    await expect(codecWith([k1]).codec.decode([payload])).rejects.toThrow(PayloadScopeUnknownError);
  });

  it('passes payloads that are not encrypted through decoding unchanged (histories recorded before encryption)', async () => {
    const { codec } = codecWith([k1]);
    const plain = samplePayloads();

    const decoded = await codec.decode(plain);

    decoded.forEach((payload, index) => expect(payload).toBe(plain[index]));
    expect(plain.map(encryptedPayloadScope)).toEqual(plain.map(() => undefined));
  });

  it('decodes a mix of encrypted and plain payloads in one call', async () => {
    const { codec } = codecWith([k1]);
    const plain = defaultPayloadConverter.toPayload('plain');

    const decoded = await codec.decode([await encryptOne(codec), plain]);

    expect(decoded.map((payload) => defaultPayloadConverter.fromPayload(payload))).toEqual([
      { name: 'Ada Lovelace' },
      'plain',
    ]);
  });
});

describe('the scope of a payload', () => {
  const tenantId = '3f1c2a9e-aaaa-4000-8000-000000000001';

  it.each<[string, SerializationContext | undefined, PayloadScope]>([
    [
      'a workflow of a tenant',
      { type: 'workflow', namespace: 'default', workflowId: `order:${tenantId}:o-1` },
      tenantScope(tenantId),
    ],
    [
      "an activity of a tenant's workflow",
      {
        type: 'activity',
        namespace: 'default',
        workflowId: `notification:${tenantId}:n-1`,
        activityId: '3',
        isLocal: false,
      },
      tenantScope(tenantId),
    ],
    [
      'an onboarding, whose tenant has no row yet',
      { type: 'workflow', namespace: 'default', workflowId: 'tenant-onboarding:corner-shop' },
      'onboarding/corner-shop',
    ],
    [
      'a platform flow',
      { type: 'workflow', namespace: 'default', workflowId: 'cleanup:daily-2026-12-02T03:00:00Z' },
      'platform',
    ],
    ['an activity that names no workflow', { type: 'activity', namespace: 'default', isLocal: true }, 'platform'],
    ['no context at all', undefined, 'platform'],
  ])('%s', async (_, context, scope) => {
    const { codec } = codecWith([k1]);

    expect(scopeOfContext(context)).toBe(scope);
    const [payload] = await codec.encode([defaultPayloadConverter.toPayload(1)], context);
    expect(encryptedPayloadScope(payload!)).toBe(scope);
  });

  it('the codec server encrypts under the scope it names', async () => {
    const { codec } = codecWith([k1]);

    const [payload] = await codec.encodeInScope([defaultPayloadConverter.toPayload(1)], tenantB);

    expect(encryptedPayloadScope(payload!)).toBe(tenantB);
  });
});

describe('the data converter', () => {
  it('sends failure messages and stack traces inside the encrypted attributes, not in clear', async () => {
    const { codec } = codecWith([k1]);
    const converter = loadDataConverter(createDataConverter(codec));
    const error = ApplicationFailure.create({ message: 'card of ada@example.com declined', type: 'PaymentDeclined' });

    const failure = await encodeErrorToFailure(converter, error, workflowOfA);

    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    expect(JSON.stringify(failure)).not.toContain('ada@example.com');
    expect(encryptedPayloadScope(failure.encodedAttributes!)).toBe(tenantA);
    const decoded = await decodeOptionalFailureToOptionalError(converter, failure, workflowOfA);
    expect(decoded).toBeInstanceOf(ApplicationFailure);
    expect(decoded).toMatchObject({ message: 'card of ada@example.com declined', type: 'PaymentDeclined' });
  });
});

describe('the operations API reading failures from raw records', () => {
  const workflowId = workflowOfA.type === 'workflow' ? workflowOfA.workflowId : '';
  const clientWith = (codec: EncryptionCodec) =>
    ({
      options: { namespace: 'default', loadedDataConverter: loadDataConverter(createDataConverter(codec)) },
    }) as Client;

  /** A step's failure as the server stores it: the application failure wrapped in Temporal's activity failure. */
  async function storedStepFailure(codec: EncryptionCodec) {
    const converter = loadDataConverter(createDataConverter(codec));
    const cause = ApplicationFailure.create({
      message: 'Billing answered 503 for ada@example.com',
      type: 'Unavailable',
    });
    return encodeErrorToFailure(
      converter,
      new ActivityFailure(
        'Activity task failed',
        'createBillingCustomer',
        '5',
        RetryState.MAXIMUM_ATTEMPTS_REACHED,
        '',
        cause,
      ),
      workflowOfA,
    );
  }

  it('decrypts the message at every level of the cause chain, and the summary looks through to the cause', async () => {
    const { codec } = codecWith([k1]);
    const stored = await storedStepFailure(codec);

    const readable = await readableFailure(clientWith(codec), workflowId, stored);

    expect([stored.message, stored.cause?.message]).toEqual(['Encoded failure', 'Encoded failure']);
    expect([readable?.message, readable?.cause?.message]).toEqual([
      'Activity task failed',
      'Billing answered 503 for ada@example.com',
    ]);
    expect(summarizeFailure(readable)).toEqual({
      type: 'Unavailable',
      message: 'Billing answered 503 for ada@example.com',
    });
  });

  it("says a failure cannot be read once its tenant's keys are erased, instead of failing the answer", async () => {
    const { codec, salts } = codecWith([k1]);
    const stored = await storedStepFailure(codec);
    salts.erase(tenantA);
    codec.forgetScope(tenantA);

    const readable = await readableFailure(clientWith(codec), workflowId, stored);

    expect(summarizeFailure(readable)).toEqual({
      type: 'Unavailable',
      message: expect.stringMatching(
        /^The failure's message is encrypted and cannot be read: The payload keys of tenant\/.* were erased/,
      ),
    });
  });

  it('passes a failure recorded before encryption through as it is', async () => {
    const { codec } = codecWith([k1]);
    const plain = { message: 'The ledger database is unavailable', applicationFailureInfo: { type: 'Error' } };

    expect(summarizeFailure(await readableFailure(clientWith(codec), workflowId, plain))).toEqual({
      type: 'Error',
      message: 'The ledger database is unavailable',
    });
  });
});
