import { Router, type RequestHandler } from 'express';
import type { Payload } from '@temporalio/common';
import { z } from 'zod';
import { tenantIdForSlug } from '../../domain/tenants';
import {
  encryptedPayloadScope,
  PayloadKeyUnknownError,
  PayloadScopeErasedError,
  PayloadScopeUnknownError,
  PayloadTamperedError,
  type EncryptionCodec,
} from '../../lib/data-converter';
import type { Logger } from '../../lib/logger';
import { PLATFORM_SCOPE, slugOfScope, tenantScope, type PayloadScope } from '../../lib/payload-scope';
import {
  authenticate,
  principalOfAuthorization,
  hasRole,
  principalOf,
  requireRole,
  type Principal,
  type TenantStatusCache,
  type VerifyToken,
} from '../auth';
import { CODEC_COOKIE, CODEC_PATH, readCookies } from '../console/session';
import { AppError } from '../errors';
import type { RouteSpec } from '../openapi/route-spec';
import { parse } from '../validation';

/**
 * The codec server: the Temporal Web UI and the `temporal` CLI send it the payloads of a history to
 * decode (and the inputs an operator types to encode), in Temporal's remote codec protocol. It runs
 * the API's own codec (the same instance as the API's Temporal client), behind the API's own
 * authentication, and decrypts for each caller only the payloads of its tenant.
 */

export interface CodecRouterDeps {
  /** The codec of the API's Temporal client, so an erase that forgets a scope's keys reaches both. */
  codec: EncryptionCodec;
  logger: Logger;
  /** The one namespace Holdfast's payloads are in (TEMPORAL_NAMESPACE). */
  namespace: string;
  /** The Web UI's origins (config.payloads.codecCorsOrigins): the only ones answered cross-origin. */
  corsOrigins: readonly string[];
  verifyToken: VerifyToken;
  tenantStatus: TenantStatusCache;
  /** The API's per-IP limit of failed authentications, around this router's authentication. */
  limitAuthFailures: (authenticate: RequestHandler) => RequestHandler;
}

/** How long a browser may reuse a preflight answer before asking again. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

// The Web UI sends the ID token of its identity provider as Authorization-Extras beside the access
// token when it passes tokens on; the codec server reads only Authorization, but must let it through.
const ALLOWED_HEADERS = 'Content-Type, Authorization, Authorization-Extras, X-Namespace';

/** Proto3 JSON bytes: base64, standard or URL-safe, padded or not. */
const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, { message: 'expected base64' })
  .refine((text) => text.replace(/=+$/, '').length % 4 !== 1, { message: 'expected base64' });

/**
 * One Payload in protobuf's JSON form. Fields proto3 JSON may add that Holdfast does not use
 * (`externalPayloads`) are dropped; a missing `metadata` or `data` is an empty one.
 */
const payloadJson = z.object({
  metadata: z.record(z.string().max(256), base64).nullish(),
  data: base64.nullish(),
});

// proto3 JSON leaves an empty list out: the CLI posts `{}` for a command that carries no payloads.
const codecBody = z.object({ payloads: z.array(payloadJson).default([]) }).strict();

const namespaceHeaders = z.object({ 'x-namespace': z.string().optional() });

/**
 * The Web UI asks `?preserveStorageRefs=true` (keep references to externally stored payloads as they are).
 * Holdfast stores no payload externally, so every payload is inline and the answer is the same either way.
 */
const codecQuery = z.object({ preserveStorageRefs: z.enum(['true', 'false']).optional() }).strict();

type PayloadJson = z.output<typeof payloadJson>;

function fromJson(payload: PayloadJson): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

function toJson(payload: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

/**
 * Why a payload itself cannot be decrypted; anything else (the database down while a salt is read) is
 * the server's problem, answered as such rather than passed off as ciphertext.
 */
const undecodablePayloadErrors = [
  PayloadKeyUnknownError,
  PayloadScopeErasedError,
  PayloadScopeUnknownError,
  PayloadTamperedError,
];

/** Whether `principal` may read payloads encrypted under `scope`: its tenant's and its onboarding's. */
export function mayDecode(principal: Principal, scope: string): boolean {
  if (hasRole(principal, 'platform-admin')) return true;
  if (scope === tenantScope(principal.tenantId)) return true;
  const slug = slugOfScope(scope);
  if (slug === undefined) return false;
  try {
    // A tenant's ID is derived from its slug, so its onboarding's scope is known without a lookup.
    return tenantIdForSlug(slug) === principal.tenantId;
  } catch {
    return false;
  }
}

/** The scope the principal's encode requests write under: its tenant's, or the platform's. */
export function encodeScopeOf(principal: Principal): PayloadScope {
  return hasRole(principal, 'platform-admin') ? PLATFORM_SCOPE : tenantScope(principal.tenantId);
}

/**
 * `POST /codec/encode` and `POST /codec/decode`, at the app's root:
 *
 * - Credentials: `Authorization: Bearer <JWT>` (the CLI's `--codec-auth`, the Web UI's
 *   `passAccessToken`), else the `holdfast_codec` cookie the console sets at sign-in. Verified as
 *   the API verifies them (an inactive tenant is refused); operator and above, member is 403.
 * - Decode: each payload the caller may read (see {@link mayDecode}) is decrypted; another tenant's
 *   payloads come back unchanged, still ciphertext, and so do payloads that cannot be decrypted (an
 *   erased tenant's, an unknown key, altered bytes), whose reasons are logged once per request.
 * - Encode: under the caller's tenant scope; a platform admin's under `platform`.
 * - `X-Namespace`, when sent, must be TEMPORAL_NAMESPACE (400 NAMESPACE_MISMATCH).
 * - CORS only for the Web UI's origins, with credentials.
 */
export function createCodecRouter(deps: CodecRouterDeps): Router {
  const { codec, logger, namespace, corsOrigins } = deps;
  const router = Router();
  const authenticateBearer = authenticate(deps.verifyToken, deps.tenantStatus);

  // The Web UI calls from its own origin; only its origins learn that they may, with credentials.
  router.use(CODEC_PATH, (req, res, next) => {
    res.vary('Origin');
    const origin = req.headers.origin;
    const allowed = origin !== undefined && corsOrigins.includes(origin);
    if (allowed) {
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method !== 'OPTIONS') {
      next();
      return;
    }
    if (allowed) {
      res.set('Access-Control-Allow-Methods', 'POST');
      res.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.set('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SECONDS));
    }
    res.status(204).end();
  });

  /**
   * The bearer header when there is one (it alone decides: a refused header does not fall back to
   * the cookie), else the console's codec cookie; then the API's own `authenticate`.
   */
  const authenticateCaller: RequestHandler = async (req, res, next) => {
    const cookie = readCookies(req).get(CODEC_COOKIE);
    const authorization = req.headers.authorization ?? (cookie ? `Bearer ${cookie}` : undefined);
    req.principal = await principalOfAuthorization(authenticateBearer, authorization, {
      method: req.method,
      path: req.path,
    });
    next();
  };

  const checkRequest: RequestHandler = (req, _res, next) => {
    parse(codecQuery, req.query);
    const requested = parse(namespaceHeaders, req.headers)['x-namespace'];
    if (requested !== undefined && requested !== namespace) {
      throw new AppError(400, 'NAMESPACE_MISMATCH', `This codec server decodes the ${namespace} namespace only`, {
        namespace: requested,
        served: namespace,
      });
    }
    next();
  };

  const guard = [deps.limitAuthFailures(authenticateCaller), requireRole('operator'), checkRequest];

  router.post(`${CODEC_PATH}/encode`, ...guard, async (req, res) => {
    const { payloads } = parse(codecBody, req.body);
    const encoded = await codec.encodeInScope(payloads.map(fromJson), encodeScopeOf(principalOf(req)));
    res.set('Cache-Control', 'no-store').json({ payloads: encoded.map(toJson) });
  });

  router.post(`${CODEC_PATH}/decode`, ...guard, async (req, res) => {
    const { payloads } = parse(codecBody, req.body);
    const principal = principalOf(req);
    let withheld = 0;
    const undecodable = new Map<string, number>();
    const decoded = await Promise.all(
      payloads.map(fromJson).map(async (payload) => {
        const scope = encryptedPayloadScope(payload);
        if (scope === undefined) return payload;
        if (!mayDecode(principal, scope)) {
          withheld++;
          return payload;
        }
        try {
          const [plain] = await codec.decode([payload]);
          return plain!;
        } catch (error) {
          if (!undecodablePayloadErrors.some((type) => error instanceof type)) throw error;
          const reason = `${(error as Error).name} ${scope}`;
          undecodable.set(reason, (undecodable.get(reason) ?? 0) + 1);
          return payload;
        }
      }),
    );
    if (undecodable.size > 0) {
      // Error names and scopes (tenant IDs and slugs) only: never a payload's bytes.
      logger.warn(
        { codec: { undecodable: Object.fromEntries(undecodable), withheld }, tenantId: principal.tenantId },
        'codec server returned payloads it could not decrypt unchanged',
      );
    }
    // Decrypted personal data: no cache may keep it.
    res.set('Cache-Control', 'no-store').json({ payloads: decoded.map(toJson) });
  });

  return router;
}

const codecTag = 'Codec server';

const payloadsSchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()), data: z.string() })),
});

// X-Namespace is optional and described here rather than as a header schema: any value but the
// namespace is refused, so there is no value a generic client could make up for it.
const codecResponses = {
  400: {
    description:
      'VALIDATION_FAILED, MALFORMED_JSON, or NAMESPACE_MISMATCH (an X-Namespace header naming another namespace)',
  },
};

/**
 * The largest body the codec server reads: a batch of what Temporal stores, whose gRPC messages are limited to
 * 4 MB; a large query answer or history page decodes in the Web UI instead of failing with 413.
 */
export const CODEC_BODY_LIMIT = '4mb';

export const codecRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: `${CODEC_PATH}/encode`,
    operationId: 'codecEncode',
    summary: 'Encrypt payloads for the Temporal Web UI or CLI (remote codec protocol)',
    description:
      'Payloads in protobuf JSON (bytes in base64). Encrypted under the caller’s tenant key; a platform ' +
      'admin’s under the platform key. Also authenticated by the console’s holdfast_codec cookie. See docs/encryption.md.',
    tag: codecTag,
    auth: 'operator',
    query: codecQuery,
    body: codecBody,
    responses: { 200: { description: 'The encrypted payloads', schema: payloadsSchema }, ...codecResponses },
  },
  {
    method: 'post',
    path: `${CODEC_PATH}/decode`,
    operationId: 'codecDecode',
    summary: 'Decrypt payloads for the Temporal Web UI or CLI (remote codec protocol)',
    description:
      'Payloads in protobuf JSON (bytes in base64). Decrypts the caller’s tenant’s payloads (a platform admin’s: ' +
      'every tenant’s); any other payload, and one whose key was erased, comes back unchanged. Also ' +
      'authenticated by the console’s holdfast_codec cookie. See docs/encryption.md.',
    tag: codecTag,
    auth: 'operator',
    query: codecQuery,
    body: codecBody,
    responses: {
      200: { description: 'The payloads, decrypted where allowed', schema: payloadsSchema },
      ...codecResponses,
    },
  },
];
