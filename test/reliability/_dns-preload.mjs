// Loaded into the real `auth-shim proxy` process with `node --import` for the DNS-failure test.
// This machine's resolver (/etc/resolv.conf) is not on loopback, so even a `.invalid` name
// (RFC 6761: never resolves) would send a query off the host. Instead, names under `.invalid`
// are answered here, in the process, without any query: ENOTFOUND (exactly what getaddrinfo
// reports for NXDOMAIN) while the file named by RELIABILITY_DNS_FAIL_FILE exists, 127.0.0.1
// once it is gone (the resolver "came back"). Every other name goes to the real lookup.
import dns from 'node:dns';
import { existsSync } from 'node:fs';

const failFile = process.env.RELIABILITY_DNS_FAIL_FILE;
const original = dns.lookup;

dns.lookup = function lookup(hostname, options, callback) {
  if (typeof hostname !== 'string' || !hostname.endsWith('.invalid')) return original.apply(this, arguments);
  const cb = typeof options === 'function' ? options : callback;
  const all = typeof options === 'object' && options !== null && options.all === true;
  if (failFile === undefined || existsSync(failFile)) {
    const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
      code: 'ENOTFOUND',
      errno: -3008,
      syscall: 'getaddrinfo',
      hostname,
    });
    process.nextTick(cb, err);
  } else if (all) {
    process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }]);
  } else {
    process.nextTick(cb, null, '127.0.0.1', 4);
  }
  return {};
};
