import nodemailer from 'nodemailer';
import type { Config } from '../lib/config';
import type { ActivityDeps } from '.';
import { createHttpSmsProvider } from './sms-provider';

/**
 * The outbound transports the config names: SMTP through nodemailer, SMS through the HTTP
 * provider adapter. A channel left unconfigured is absent (see ActivityDeps).
 */
export function createMessagingTransports(config: Pick<Config, 'mail' | 'sms'>): Pick<ActivityDeps, 'mail' | 'sms'> {
  const { smtpUrl, from } = config.mail;
  const { providerUrl, providerToken } = config.sms;
  return {
    mail: smtpUrl ? { transport: nodemailer.createTransport(smtpUrl), from } : undefined,
    sms: providerUrl ? createHttpSmsProvider({ url: providerUrl, token: providerToken }) : undefined,
  };
}
