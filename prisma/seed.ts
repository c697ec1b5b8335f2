import { loadConfigOrExit, requireDatabaseUrl } from '../lib/config';
import { createPrismaClient, type PrismaClient } from '../lib/db';

export const demoTenant = { id: 'demo', slug: 'demo', name: 'Demo Clinic', adminEmail: 'admin@demo.holdfast.local' };

/** Idempotent: safe on every `npm run dev` and on a database that already has the demo data. */
export async function seed(prisma: PrismaClient): Promise<void> {
  await prisma.tenant.upsert({
    where: { id: demoTenant.id },
    update: {},
    create: { ...demoTenant, status: 'ACTIVE', tier: 'professional' },
  });
}

if (require.main === module) {
  const prisma = createPrismaClient(requireDatabaseUrl(loadConfigOrExit()));
  seed(prisma)
    .then(() => console.log(`Seeded tenant "${demoTenant.id}".`))
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    })
    .finally(() => void prisma.$disconnect());
}
