import nodemailer from 'nodemailer';
import type { Config } from '../lib/config';
import type { ActivityDeps } from '.';
import { createHttpSmsProvider } from './sms-provider';

/**
 * The outbound transports the config names: SMTP through nodemailer, SMS and WhatsApp through
 * the HTTP provider adapter. A channel left unconfigured is absent (see ActivityDeps).
 */
export function createMessagingTransports(
  config: Pick<Config, 'mail' | 'sms' | 'whatsapp'>,
): Pick<ActivityDeps, 'mail' | 'sms' | 'whatsapp'> {
  const { smtpUrl, from } = config.mail;
  const { sms, whatsapp } = config;
  return {
    mail: smtpUrl ? { transport: nodemailer.createTransport(smtpUrl), from } : undefined,
    sms: sms.providerUrl ? createHttpSmsProvider({ url: sms.providerUrl, token: sms.providerToken }) : undefined,
    whatsapp: whatsapp.providerUrl
      ? createHttpSmsProvider({ name: 'WhatsApp provider', url: whatsapp.providerUrl, token: whatsapp.providerToken })
      : undefined,
  };
}
