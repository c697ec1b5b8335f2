import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { checkResolvedAddress, checkWebhookUrl, type TargetRefusal, type UrlPolicy } from '../domain/webhooks';

/** A connection refused by the URL policy at lookup time; `refusal` says why. */
export class TargetRefused extends Error {
  constructor(readonly refusal: TargetRefusal) {
    super(refusal.message);
    this.name = 'TargetRefused';
  }
}

/**
 * A `lookup` for http(s).request that resolves the host and refuses the connection unless every
 * address passes the URL policy. The socket connects to an address checked here, so a name that
 * resolves to a public address at registration and a private one now (DNS rebinding) is refused.
 */
export function policyCheckedLookup(policy: UrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { family: options.family, hints: options.hints, all: true }, (error, addresses) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      const refusal = addresses
        .map(({ address }) => checkResolvedAddress(hostname, address, policy))
        .find((found) => found !== undefined);
      if (refusal || addresses.length === 0) {
        callback(new TargetRefused(refusal ?? { code: 'INVALID_URL', message: 'The host has no address' }), '', 0);
        return;
      }
      if (options.all) {
        (callback as unknown as (error: null, addresses: dns.LookupAddress[]) => void)(null, addresses);
      } else {
        callback(null, addresses[0]!.address, addresses[0]!.family);
      }
    });
  };
}

/**
 * Resolves a URL's host and checks every address against the policy, as registration does.
 * @returns the refusal, or undefined when the URL may be used.
 */
export async function checkWebhookTarget(urlText: string, policy: UrlPolicy): Promise<TargetRefusal | undefined> {
  const checked = checkWebhookUrl(urlText, policy);
  if ('refused' in checked) return checked.refused;
  const host = checked.url.hostname.replace(/^\[|\]$/g, '');
  let addresses: dns.LookupAddress[];
  try {
    addresses = await dns.promises.lookup(host, { all: true });
  } catch {
    return { code: 'INVALID_URL', message: 'The URL host does not resolve' };
  }
  return addresses.map(({ address }) => checkResolvedAddress(host, address, policy)).find(Boolean);
}
