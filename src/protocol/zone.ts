/** Bytes of a zone name (see isZoneName). */
export const MAX_ZONE_BYTES = 63;

/**
 * A zone names where a node sits in the network (a rack, a switch, an availability zone):
 * 1-63 characters of letters, digits and . _ : / -, so a Kubernetes topology label fits.
 */
export const isZoneName = (zone: string): boolean => zone.length <= MAX_ZONE_BYTES && /^[A-Za-z0-9._:/-]+$/.test(zone);
