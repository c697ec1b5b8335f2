import { parseArgs } from 'node:util';
import { roles, type Role } from '../api/auth';
import { loadConfigOrExit } from '../lib/config';
import { signDevToken } from '../lib/dev-token';

const usage = `Usage: npm run token -- --tenant <tenantId> --role <role> [--role <role>] [--sub <subject>] [--expires 8h]
Roles: ${roles.join(', ')}`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      role: { type: 'string', multiple: true },
      sub: { type: 'string' },
      expires: { type: 'string', default: '8h' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const requested = values.role ?? [];
  const unknown = requested.filter((role) => !(roles as readonly string[]).includes(role));
  if (!values.tenant || requested.length === 0 || unknown.length > 0) {
    if (unknown.length > 0) console.error(`Unknown role(s): ${unknown.join(', ')}`);
    console.error(usage);
    process.exit(2);
  }
  const config = loadConfigOrExit();
  const token = await signDevToken(config.auth, {
    tenantId: values.tenant,
    roles: requested as Role[],
    subject: values.sub,
    expiresIn: values.expires,
  });
  console.log(token);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
