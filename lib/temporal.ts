import fs from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { Config } from './config';
import { createDataConverter } from './data-converter';

/**
 * Connection options shared by the client (`Connection.connect`) and the worker
 * (`NativeConnection.connect`): a local dev server, a self-hosted server with mTLS, or
 * Temporal Cloud with an API key.
 */
export function temporalConnectionOptions(temporal: Config['temporal']): {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
} {
  const { address, apiKey, tls } = temporal;
  if (tls === false) return { address, apiKey };
  const tlsConfig: TLSConfig = {};
  if (tls.serverName) tlsConfig.serverNameOverride = tls.serverName;
  if (tls.caPath) tlsConfig.serverRootCACertificate = fs.readFileSync(tls.caPath);
  if (tls.clientCertPath && tls.clientKeyPath) {
    tlsConfig.clientCertPair = { crt: fs.readFileSync(tls.clientCertPath), key: fs.readFileSync(tls.clientKeyPath) };
  }
  return { address, apiKey, tls: Object.keys(tlsConfig).length > 0 ? tlsConfig : true };
}

/**
 * Options for `new Client(...)`, minus the connection: one namespace, one data converter, whose codec
 * encrypts every payload (lib/payload-key-scopes.ts `createConfiguredCodec`).
 */
export function temporalClientOptions(temporal: Config['temporal'], codec: PayloadCodec) {
  return { namespace: temporal.namespace, dataConverter: createDataConverter(codec) };
}
