import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Secrets for development and test runs, generated at random the first time a process needs them
 * and kept in `<data dir>/dev-secrets.json` (mode 0600, git-ignored with the rest of `.data/`).
 * Each clone gets its own, and a restart keeps issued tokens and links valid. Production never
 * reads this file: there every secret must come from the environment (lib/config.ts).
 */
export interface DevSecrets {
  jwtSecret: string;
  offerTokenSecret: string;
  invitationTokenSecret: string;
  /** Encrypts webhook signing secrets at rest (lib/secret-box.ts). */
  webhookSecretKey: string;
  /** The development keyring's one master key for payload encryption (32 bytes, base64url). */
  payloadKey: string;
}

export const DEV_SECRETS_FILE = 'dev-secrets.json';

const keys = ['jwtSecret', 'offerTokenSecret', 'invitationTokenSecret', 'webhookSecretKey', 'payloadKey'] as const;

/** Keys added after the first files were written: a file without them gets them added, the others kept. */
const addedKeys = new Set<(typeof keys)[number]>(['webhookSecretKey', 'payloadKey']);

/** The default data directory: `.data/` at the repository root, as `npm run dev` uses. */
export function defaultDataDir(): string {
  return path.resolve(__dirname, '..', '.data');
}

/**
 * The development secrets in `dataDir`, creating them if the file does not exist yet.
 *
 * Creation is atomic: the secrets are written to a private temporary file that is then
 * hard-linked into place, which fails if another process got there first. Two processes that
 * start together therefore read the same file, and nobody ever reads a half-written one.
 *
 * @throws Error naming the file when it exists but is not a complete secrets file, so a developer
 *   can delete it and start again.
 */
export function loadDevSecrets(dataDir: string): DevSecrets {
  const file = path.join(dataDir, DEV_SECRETS_FILE);
  const existing = readSecrets(file);
  if (existing && keys.every((key) => existing[key])) return existing as DevSecrets;
  if (existing) return addMissingSecrets(file, existing);

  fs.mkdirSync(dataDir, { recursive: true });
  const generated = Object.fromEntries(keys.map((key) => [key, randomBytes(32).toString('base64url')]));
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(generated, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    fs.rmSync(temporary, { force: true });
  }
  const created = readSecrets(file);
  if (!created) throw new Error(`${file} vanished while it was being created`);
  return keys.every((key) => created[key]) ? (created as DevSecrets) : addMissingSecrets(file, created);
}

/**
 * Adds the keys a file written by an earlier version lacks. The new file replaces the old one
 * atomically (rename), so nobody reads a half-written file; a process that finds the keys already
 * added keeps those. Two processes upgrading the very same file at the same instant could each
 * keep their own new value; it happens once per clone at most, and only in development.
 */
function addMissingSecrets(file: string, existing: Partial<DevSecrets>): DevSecrets {
  const upgraded = { ...existing };
  for (const key of keys) upgraded[key] ??= randomBytes(32).toString('base64url');
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(upgraded, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  const current = readSecrets(file);
  if (current && keys.every((key) => current[key])) {
    fs.rmSync(temporary, { force: true });
    return current as DevSecrets;
  }
  fs.renameSync(temporary, file);
  return readSecrets(file) as DevSecrets;
}

function readSecrets(file: string): Partial<DevSecrets> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let value: Partial<Record<(typeof keys)[number], unknown>> | undefined;
  try {
    value = JSON.parse(text) as typeof value;
  } catch {
    value = undefined;
  }
  const valid = (key: (typeof keys)[number]) => typeof value?.[key] === 'string' && value[key].length >= 32;
  if (!value || !keys.every((key) => valid(key) || (addedKeys.has(key) && value[key] === undefined))) {
    throw new Error(`${file} is not a valid development secrets file: delete it and a new one is generated`);
  }
  const secrets: Partial<DevSecrets> = Object.fromEntries(keys.filter(valid).map((key) => [key, value[key]]));
  return secrets;
}
