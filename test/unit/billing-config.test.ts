import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config';

/** Development settings whose generated secrets go to a throwaway data directory. */
const development = (env: Record<string, string> = {}) =>
  loadConfig({
    APP_ENV: 'development',
    HOLDFAST_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-config-')),
    ...env,
  });

const problemsOf = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  return '';
};

describe('billing and onboarding configuration', () => {
  it('runs without a billing provider outside production, with a dev platform-admin address and secret', () => {
    const config = development();

    expect(config.billing).toEqual({
      apiUrl: undefined,
      apiKey: undefined,
      timeoutMs: 15_000,
      prices: {
        free: 'price_holdfast_free',
        professional: 'price_holdfast_professional',
        enterprise: 'price_holdfast_enterprise',
      },
    });
    expect(config.onboarding.platformAdminEmail).toBe('platform-admin@holdfast.local');
    expect(config.onboarding.invitationTokenSecret.length).toBeGreaterThanOrEqual(32);
  });

  it('reads the billing URL, key, timeout and per-tier prices', () => {
    const config = development({
      BILLING_API_URL: 'https://billing.example.com/',
      BILLING_API_KEY: 'sk_live_x',
      BILLING_TIMEOUT: '2.5 seconds',
      BILLING_PRICES: 'professional=price_pro,enterprise=price_ent',
      PLATFORM_ADMIN_EMAIL: 'ops@example.com',
    });

    expect(config.billing).toMatchObject({
      apiUrl: 'https://billing.example.com',
      apiKey: 'sk_live_x',
      timeoutMs: 2500,
      prices: { free: 'price_holdfast_free', professional: 'price_pro', enterprise: 'price_ent' },
    });
    expect(config.onboarding.platformAdminEmail).toBe('ops@example.com');
  });

  it.each([
    ['500ms', 500],
    ['500', 500],
    ['30s', 30_000],
    ['2 minutes', 120_000],
  ])('reads a billing timeout of %s as %d ms', (value, ms) => {
    expect(development({ BILLING_TIMEOUT: value }).billing.timeoutMs).toBe(ms);
  });

  it('rejects a malformed billing URL, price list, timeout, admin address or a short invitation secret', () => {
    const problems = problemsOf({
      APP_ENV: 'development',
      BILLING_API_URL: 'not a url',
      BILLING_PRICES: 'gold=price_1',
      BILLING_TIMEOUT: 'soon',
      PLATFORM_ADMIN_EMAIL: 'nobody',
      INVITATION_TOKEN_SECRET: 'short',
    });

    for (const variable of [
      'BILLING_API_URL',
      'BILLING_PRICES',
      'BILLING_TIMEOUT',
      'PLATFORM_ADMIN_EMAIL',
      'INVITATION_TOKEN_SECRET',
    ]) {
      expect(problems).toMatch(variable);
    }
  });

  it('requires the billing provider, the platform-admin address and the invitation secret in production', () => {
    const problems = problemsOf({ APP_ENV: 'production' });

    for (const variable of ['BILLING_API_URL', 'BILLING_API_KEY', 'PLATFORM_ADMIN_EMAIL', 'INVITATION_TOKEN_SECRET']) {
      expect(problems).toMatch(`${variable}: is required in production`);
    }
  });
});
