import { loadConfigOrExit, requireDatabaseUrl } from '../lib/config';
import { createPrismaClient, type PrismaClient } from '../lib/db';

export const demoTenant = { id: 'demo', slug: 'demo', name: 'Demo Clinic', adminEmail: 'admin@demo.holdfast.local' };

/** Shops that order from the demo tenant's vendors; fixed IDs, so the README's examples work as written. */
export const demoRetailers = [
  {
    id: '00000000-0000-4000-8000-000000000101',
    name: 'Corner Shop Thamel',
    channel: 'WHATSAPP',
    contact: '+9779800000101',
    creditLimit: 500_000,
  },
  {
    id: '00000000-0000-4000-8000-000000000102',
    name: 'Patan Mini Mart',
    channel: 'EMAIL',
    contact: 'orders@patan-mart.example.test',
    creditLimit: 200_000,
  },
] as const;

/** Vendors in region "kathmandu"; the best-rated is offered an order first. */
export const demoVendors = [
  {
    id: '00000000-0000-4000-8000-000000000201',
    name: 'Himalayan Wholesale',
    region: 'kathmandu',
    categories: ['grocery', 'beverages'],
    capacity: 10,
    rating: 4.6,
    channel: 'WHATSAPP',
    contact: '+9779800000201',
  },
  {
    id: '00000000-0000-4000-8000-000000000202',
    name: 'Valley Traders',
    region: 'kathmandu',
    categories: ['grocery', 'beverages', 'household'],
    capacity: 5,
    rating: 4.1,
    channel: 'EMAIL',
    contact: 'dispatch@valley-traders.example.test',
  },
  {
    id: '00000000-0000-4000-8000-000000000203',
    name: 'Pokhara Supply Co',
    region: 'pokhara',
    categories: ['grocery'],
    capacity: 8,
    rating: 4.8,
    channel: 'SMS',
    contact: '+9779800000203',
  },
] as const;

/** Idempotent: safe on every `npm run dev` and on a database that already has the demo data. */
export async function seed(prisma: PrismaClient): Promise<void> {
  await prisma.tenant.upsert({
    where: { id: demoTenant.id },
    update: {},
    create: { ...demoTenant, status: 'ACTIVE', tier: 'professional' },
  });
  for (const retailer of demoRetailers) {
    await prisma.retailer.upsert({
      where: { id: retailer.id },
      update: {},
      create: { ...retailer, tenantId: demoTenant.id },
    });
  }
  for (const vendor of demoVendors) {
    await prisma.vendor.upsert({
      where: { id: vendor.id },
      update: {},
      create: { ...vendor, categories: [...vendor.categories], tenantId: demoTenant.id },
    });
  }
}

if (require.main === module) {
  const prisma = createPrismaClient(requireDatabaseUrl(loadConfigOrExit()));
  seed(prisma)
    .then(() =>
      console.log(
        `Seeded tenant "${demoTenant.id}" with ${demoRetailers.length} retailers and ${demoVendors.length} vendors.`,
      ),
    )
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    })
    .finally(() => void prisma.$disconnect());
}
