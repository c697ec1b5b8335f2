import { createDataConverter, createEncryptionCodec } from '../../lib/data-converter';

/** The environment variables that hand the ceiling's key and salt to its worker process. */
export const CEILING_KEY_ENV = 'CEILING_PAYLOAD_KEY';
export const CEILING_SALT_ENV = 'CEILING_PAYLOAD_SALT';

/**
 * Holdfast's data converter (lib/data-converter.ts: AES-256-GCM per payload, the failure converter) with a
 * fixed salt instead of PostgreSQL's: the real codec reads a scope's salt once per PAYLOAD_KEY_CACHE_TTL
 * (30 s), so per payload the work is the same, and the driver and its worker need no database.
 */
export function createCeilingDataConverter(keyBase64: string, saltBase64: string) {
  const salt = Buffer.from(saltBase64, 'base64');
  const codec = createEncryptionCodec({
    keys: [{ id: 'ceiling', key: Buffer.from(keyBase64, 'base64') }],
    salts: { saltOf: () => Promise.resolve(salt) },
    keyCacheTtlMs: 30_000,
  });
  return createDataConverter(codec);
}
