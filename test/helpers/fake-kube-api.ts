import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';

/**
 * A loopback stand-in for the Kubernetes API's Secret endpoints, for the real
 * @kubernetes/client-node to talk to: GET one Secret, and watch it as a stream of JSON lines.
 * Tests change the Secret, drop watches, and see what the client asked for.
 */
export interface FakeKubeApi {
  readonly url: string;
  readonly requests: string[];
  /** Open watch streams right now. */
  readonly watches: Set<ServerResponse>;
  /** Set, change or delete (undefined) the Secret; open watches get the event. */
  setSecret(data: Record<string, string> | undefined): void;
  /** Sends a raw watch event line to every open watch. */
  sendEvent(event: unknown): void;
  /** Breaks every open watch connection (as a restarting API server does). */
  dropWatches(): void;
  /** Answer GETs with this status instead (e.g. 403, 500); undefined restores normal behaviour. */
  failGets: number | undefined;
  writeKubeconfig(path: string): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeKubeApi(namespace: string, name: string): Promise<FakeKubeApi> {
  let rv = 1;
  let secret: Record<string, unknown> | undefined;
  const watches = new Set<ServerResponse>();
  const requests: string[] = [];
  /** Every event with its resourceVersion: a watch from version N replays what came after N. */
  const history: Array<{ rv: number; line: string }> = [];
  const toObject = (data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, resourceVersion: String(++rv) },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? '/', 'http://x');
    const base = `/api/v1/namespaces/${namespace}/secrets`;
    if (url.pathname === `${base}/${name}` && req.method === 'GET') {
      if (api.failGets !== undefined) {
        res
          .writeHead(api.failGets, { 'content-type': 'application/json' })
          .end(JSON.stringify({ kind: 'Status', code: api.failGets }));
      } else if (secret === undefined) {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound' }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(secret));
      }
      return;
    }
    if (
      url.pathname === base &&
      url.searchParams.get('watch') === 'true' &&
      url.searchParams.get('fieldSelector') === `metadata.name=${name}`
    ) {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      watches.add(res);
      res.on('close', () => watches.delete(res));
      // Without a resourceVersion, a watch starts with the current state; with one, the API server
      // replays every event newer than it.
      const from = url.searchParams.get('resourceVersion');
      if (from === null) {
        if (secret !== undefined) res.write(`${JSON.stringify({ type: 'ADDED', object: secret })}\n`);
      } else {
        for (const h of history) if (h.rv > Number(from)) res.write(h.line);
      }
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const api: FakeKubeApi = {
    url,
    requests,
    watches,
    failGets: undefined,
    setSecret(data) {
      const type = data === undefined ? 'DELETED' : secret === undefined ? 'ADDED' : 'MODIFIED';
      const obj =
        data === undefined
          ? { ...(secret ?? {}), metadata: { name, namespace, resourceVersion: String(++rv) } }
          : toObject(data);
      secret = data === undefined ? undefined : obj;
      api.sendEvent({ type, object: obj });
    },
    sendEvent(event) {
      const line = `${JSON.stringify(event)}\n`;
      const version = Number(
        (event as { object?: { metadata?: { resourceVersion?: string } } }).object?.metadata?.resourceVersion,
      );
      if (Number.isFinite(version)) history.push({ rv: version, line });
      for (const w of watches) w.write(line);
    },
    dropWatches() {
      for (const w of watches) w.socket?.destroy();
    },
    async writeKubeconfig(path) {
      await writeFile(
        path,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          'current-context': 'fake',
          // plain HTTP on loopback
          clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'u', user: { token: 'fake-sa-token' } }],
          contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u', namespace } }],
        }),
      );
    },
    close() {
      for (const w of watches) w.socket?.destroy();
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
  return api;
}
