/**
 * Connection-specific header names (RFC 9110 §7.6.1) that the shim drops in both directions: they describe
 * one hop, not the exchange. Requests and responses each add names of their own.
 */
export const HOP_BY_HOP: readonly string[] = [
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
];
