/**
 * The pod network: one Linux bridge whose address is the node IP, the CNI `bridge` + `host-local`
 * plugins (Debian's containernetworking-plugins) attaching pods to it, and iptables rules scoped to
 * that bridge so pods reach each other, Services and the node, and nothing beyond the machine.
 * Everything here is undone by `teardown()`; no host-wide rule or route is touched.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../controlplane/cluster.js';
import { BRIDGE, NODE_IP, POD_CIDR, SERVICE_CIDR, STATE_DIR } from './config.js';

export const CNI_CONF_DIR = join(STATE_DIR, 'cni', 'net.d');
const IPAM_DIR = join(STATE_DIR, 'cni', 'ipam');
const CHAIN = 'AUTH-SHIM-FWD';
const prefix = POD_CIDR.split('/')[1] ?? '24';

async function sh(cmd: string, args: readonly string[], allowFail = false): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The jumps from FORWARD into our chain: only packets entering or leaving our bridge. */
const JUMPS = [
  ['FORWARD', '-i', BRIDGE, '-j', CHAIN],
  ['FORWARD', '-o', BRIDGE, '-j', CHAIN],
] as const;

export async function setup(): Promise<void> {
  if ((await run('ip', ['link', 'show', BRIDGE])).code !== 0) {
    await sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  }
  const addrs = await sh('ip', ['-o', '-4', 'addr', 'show', 'dev', BRIDGE]);
  if (!addrs.includes(`${NODE_IP}/${prefix}`)) await sh('ip', ['addr', 'add', `${NODE_IP}/${prefix}`, 'dev', BRIDGE]);
  await sh('ip', ['link', 'set', BRIDGE, 'up']);
  // Service IPs are virtual (kube-proxy DNATs them in PREROUTING/OUTPUT); this route keeps a packet
  // to an unassigned Service IP on the bridge instead of following the default route out of the machine.
  await sh('ip', ['route', 'replace', SERVICE_CIDR, 'dev', BRIDGE, 'src', NODE_IP]);

  // Our chain: bridge-to-bridge traffic (pod↔pod, pod→Service→pod with br_netfilter) is accepted,
  // anything else crossing the bridge boundary (pod→outside, outside→pod) is dropped. Traffic
  // between the host and pods is INPUT/OUTPUT, not FORWARD, and stays allowed.
  if ((await run('iptables', ['-w', '-n', '-L', CHAIN])).code !== 0) await sh('iptables', ['-w', '-N', CHAIN]);
  await sh('iptables', ['-w', '-F', CHAIN]);
  await sh('iptables', ['-w', '-A', CHAIN, '-i', BRIDGE, '-o', BRIDGE, '-j', 'ACCEPT']);
  await sh('iptables', ['-w', '-A', CHAIN, '-j', 'DROP']);
  for (const jump of JUMPS) {
    if ((await run('iptables', ['-w', '-C', ...jump])).code !== 0)
      await sh('iptables', ['-w', '-I', jump[0], '1', ...jump.slice(1)]);
  }
  // Service traffic between two pods on the same bridge is only un-NATed on the way back if bridged
  // frames pass iptables (Kubernetes' documented requirement for bridge networks).
  if (!existsSync('/proc/sys/net/bridge')) await sh('modprobe', ['br_netfilter']).catch(() => undefined);
  if (!existsSync('/proc/sys/net/bridge'))
    throw new Error('the br_netfilter kernel module is not loaded (modprobe br_netfilter)');
  await writeFile('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
  await writeFile('/proc/sys/net/ipv4/ip_forward', '1');

  await mkdir(CNI_CONF_DIR, { recursive: true });
  await writeFile(
    join(CNI_CONF_DIR, '10-auth-shim.conflist'),
    JSON.stringify(
      {
        cniVersion: '0.4.0',
        name: 'auth-shim',
        plugins: [
          {
            type: 'bridge',
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            // Pods get a default route via the node so Service IPs (outside the pod subnet) are reachable;
            // the FORWARD chain above keeps them from going further.
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP }]],
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: IPAM_DIR,
            },
          },
        ],
      },
      null,
      2,
    ),
  );
}

/** Removes the veths still on our bridge (their pods' netns go with their peers), the bridge, route and rules. */
export async function teardown(): Promise<void> {
  if ((await run('ip', ['link', 'show', BRIDGE])).code === 0) {
    const ports = await sh('ip', ['-o', 'link', 'show', 'master', BRIDGE], true);
    for (const line of ports.split('\n')) {
      const name = /^\d+: ([^@:]+)/.exec(line)?.[1];
      if (name !== undefined) await sh('ip', ['link', 'delete', name], true);
    }
    await sh('ip', ['link', 'delete', BRIDGE], true);
  }
  await sh('ip', ['route', 'delete', SERVICE_CIDR], true);
  for (const jump of JUMPS) {
    while ((await run('iptables', ['-w', '-C', ...jump])).code === 0) await sh('iptables', ['-w', '-D', ...jump]);
  }
  if ((await run('iptables', ['-w', '-n', '-L', CHAIN])).code === 0) {
    await sh('iptables', ['-w', '-F', CHAIN]);
    await sh('iptables', ['-w', '-X', CHAIN]);
  }
  if (existsSync(IPAM_DIR)) await rm(IPAM_DIR, { recursive: true, force: true });
}

/** Network namespaces that containerd created for this cluster's pods, as recorded in their specs. */
export async function podNetnsPaths(ctr: (args: readonly string[]) => Promise<string>): Promise<string[]> {
  const ids = (await ctr(['containers', 'list', '--quiet']).catch(() => '')).split('\n').filter(Boolean);
  const paths = new Set<string>();
  for (const id of ids) {
    const info = await ctr(['containers', 'info', id]).catch(() => '');
    // Sandboxes name a bind-mounted netns file; app containers join theirs through /proc/<pid>/ns/net.
    for (const m of info.matchAll(/"type":\s*"network",\s*"path":\s*"(\/(?:var\/)?run\/netns\/[^"]+)"/g))
      if (m[1] !== undefined) paths.add(m[1]);
  }
  return [...paths];
}

/** Unmounts and removes netns files left behind when pods were killed behind the CRI's back. */
export async function removeNetns(paths: readonly string[]): Promise<void> {
  for (const p of paths) {
    if (!existsSync(p)) continue;
    await sh('umount', [p], true);
    await rm(p, { force: true }).catch(() => undefined);
  }
}
