import { ConfigError, loadConfig } from '../../lib/config';

describe('configuration', () => {
  it('runs on embedded defaults in development with no variables set', () => {
    const config = loadConfig({});

    expect(config.env).toBe('development');
    expect(config.api.port).toBe(3000);
    expect(config.temporal).toMatchObject({ address: 'localhost:7233', namespace: 'default', tls: false });
    expect(config.auth.jwtSecret).toBeDefined();
  });

  it('lists every problem at once instead of failing on the first', () => {
    const attempt = () =>
      loadConfig({ APP_ENV: 'production', API_PORT: 'not-a-port', JWT_SECRET: 'short', SMTP_URL: 'http://x' });

    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toMatch(/API_PORT/);
      expect(problems).toMatch(/SMTP_URL/);
      expect(problems).toMatch(/JWT_SECRET: must be at least 32 characters/);
      expect(problems).toMatch(/OFFER_TOKEN_SECRET: is required in production/);
    }
  });

  it('requires real secrets, a database and SMTP in production', () => {
    try {
      loadConfig({ APP_ENV: 'production' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toMatch(/JWT_SECRET/);
      expect(problems).toMatch(/OFFER_TOKEN_SECRET/);
      expect(problems).toMatch(/DATABASE_URL/);
      expect(problems).toMatch(/SMTP_URL/);
    }
  });

  it('connects to Temporal Cloud over TLS when an API key is set', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'key' });

    expect(config.temporal.apiKey).toBe('key');
    expect(config.temporal.tls).toEqual(expect.objectContaining({}));
    expect(config.temporal.tls).not.toBe(false);
  });

  it('rejects half an mTLS key pair', () => {
    expect(() => loadConfig({ TEMPORAL_TLS_CERT_PATH: __filename })).toThrow(/go together/);
  });

  it('rejects certificate paths that do not exist', () => {
    expect(() =>
      loadConfig({ TEMPORAL_TLS_CERT_PATH: '/nope/client.pem', TEMPORAL_TLS_KEY_PATH: '/nope/client.key' }),
    ).toThrow(/file does not exist/);
  });
});
