/**
 * Which vendors an order is offered to, and in what order. Pure, so the routing activity and the
 * API rank alike.
 */

/** A vendor with the load and recent behaviour the ranking weighs. */
export interface VendorCandidate {
  id: string;
  region: string;
  categories: readonly string[];
  capacity: number;
  /** 0..5. */
  rating: number;
  active: boolean;
  /** Orders it holds now (ASSIGNED or DISPATCHED). */
  openOrders: number;
  /** Offers it rejected or let time out within {@link RECENT_REJECTION_DAYS}. */
  recentRejections: number;
}

export interface RoutingNeed {
  deliveryRegion: string;
  categories: readonly string[];
}

/** How far back rejections and time-outs count against a vendor. */
export const RECENT_REJECTION_DAYS = 30;

/** At most this many vendors are tried before the order needs an operator, which bounds the history. */
export const MAX_VENDORS_PER_ORDER = 20;

/** Why a vendor cannot take an order at all, or null when it can. */
export function ineligibility(vendor: VendorCandidate, need: RoutingNeed): string | null {
  if (!vendor.active) return 'inactive';
  if (vendor.region !== need.deliveryRegion) return 'serves another region';
  const missing = need.categories.filter((category) => !vendor.categories.includes(category));
  if (missing.length > 0) return `does not supply ${missing.join(', ')}`;
  if (vendor.openOrders >= vendor.capacity) return 'at capacity';
  return null;
}

/**
 * Higher is better: the rating, less a point for each recent rejection (a vendor that keeps
 * saying no wastes the retailer's time), less a little for how full it already is.
 */
export function vendorScore(vendor: VendorCandidate): number {
  const load = vendor.capacity > 0 ? vendor.openOrders / vendor.capacity : 1;
  // Rounded, so scores that are equal on paper (3.0 - 0.1 and 3.2 - 0.3) compare equal and the tie-breaks apply.
  return Math.round((vendor.rating - vendor.recentRejections - load * 0.5) * 1e6) / 1e6;
}

/**
 * The eligible vendors, best first (score, then fewer open orders, then ID so two readers always
 * agree), at most `limit` of them.
 */
export function rankVendors<T extends VendorCandidate>(
  vendors: readonly T[],
  need: RoutingNeed,
  limit = MAX_VENDORS_PER_ORDER,
): T[] {
  return vendors
    .filter((vendor) => ineligibility(vendor, need) === null)
    .sort(
      (a, b) =>
        vendorScore(b) - vendorScore(a) || a.openOrders - b.openOrders || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    )
    .slice(0, limit);
}
