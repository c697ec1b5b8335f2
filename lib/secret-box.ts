import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encryption at rest for secrets Holdfast must use again later (webhook signing secrets): AES-256-GCM
 * under a key derived from a configured secret (WEBHOOK_SECRET_KEY). Each value is bound to the row
 * it belongs to (the associated data), so a ciphertext copied onto another row does not decrypt.
 *
 * Stored form: `v1.<iv>.<tag>.<ciphertext>`, each part base64url.
 */
export interface SecretBox {
  seal(plaintext: string, boundTo: string): string;
  /** @throws Error when the value was not sealed under this key for `boundTo`, or was altered. */
  open(sealed: string, boundTo: string): string;
}

const VERSION = 'v1';
const AUTH_TAG_BYTES = 16;

/** Derives the 256-bit key from the configured secret, so any secret of 32 characters or more serves. */
function deriveKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'holdfast', 'secret-box v1 aes-256-gcm', 32));
}

export function createSecretBox(secret: string): SecretBox {
  if (secret.length < 32) throw new Error('the secret-box key must be at least 32 characters');
  const key = deriveKey(secret);
  return {
    seal(plaintext, boundTo) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: AUTH_TAG_BYTES });
      cipher.setAAD(Buffer.from(boundTo, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, iv, cipher.getAuthTag(), ciphertext]
        .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
        .join('.');
    },
    open(sealed, boundTo) {
      const [version, iv, tag, ciphertext, ...rest] = sealed.split('.');
      if (version !== VERSION || !iv || !tag || ciphertext === undefined || rest.length > 0) {
        throw new Error('not a sealed secret');
      }
      const authTag = Buffer.from(tag, 'base64url');
      // GCM accepts a tag cut short and checks only its bytes, which makes a forgery that much
      // easier: only the full 16-byte tag seal() writes is accepted.
      if (authTag.length !== AUTH_TAG_BYTES) throw new Error('not a sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
        authTagLength: AUTH_TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(boundTo, 'utf8'));
      decipher.setAuthTag(authTag);
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
