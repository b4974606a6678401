/**
 * A small Kubernetes API server for tests, on 127.0.0.1, speaking the parts of the real
 * protocol that `@kubernetes/client-node` uses:
 *
 * - list (`GET` a collection) with one cluster-wide, etcd-like `resourceVersion`; items of core
 *   (`/api/v1`) lists carry no `apiVersion`/`kind`, as the real server omits them;
 * - watch (`?watch=true&resourceVersion=N`): a chunked stream of one JSON object per line,
 *   `ADDED` / `MODIFIED` / `DELETED` / `BOOKMARK`, replaying the history after N first;
 * - `410 Gone` both ways: an `ERROR` watch event carrying a `Status` with code 410 (then the
 *   stream ends), and an HTTP 410 for a watch from a compacted `resourceVersion`;
 * - `fieldSelector` `metadata.name=` / `metadata.namespace=` and equality `labelSelector`s;
 * - get, create (409 AlreadyExists), update (409 Conflict on a stale `resourceVersion`),
 *   merge-patch, delete, on any namespaced resource; `metadata.generation` moves only when
 *   something outside `metadata` and `status` changes;
 * - the `status` subresource (`PATCH …/status`, merge patch only), which can be turned off per
 *   resource to act like a CRD without it (404, as Flux's v1beta3 CRDs answer);
 * - `MicroTime` fields (Lease `acquireTime` / `renewTime`, Event `eventTime`) must have six
 *   fractional digits, as the real server insists.
 *
 * Tests change objects through the same methods `kubectl` would hit (`apply`, `remove`, …) and
 * inject faults (`expireWatches`, `failNext`, `setSilently`). No auth; no real validation.
 */
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { makeTempDir } from './tmp.js';
import { until } from './wait.js';

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
};

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  /** Whether `…/status` exists (default: true for CRDs in a group, false for core kinds). */
  statusSubresource?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  accept?: string;
  body?: unknown;
}

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: string;
  object: KubeObject;
}

interface Watcher {
  resource: string;
  namespace?: string;
  matches: (obj: KubeObject) => boolean;
  res: ServerResponse;
  type: ResourceType;
}

interface InjectedFailure {
  method?: string;
  path: RegExp;
  status: number;
  remaining: number;
}

const BUILTIN_TYPES: ResourceType[] = [
  { group: 'notification.toolkit.fluxcd.io', version: 'v1beta3', kind: 'Provider', plural: 'providers' },
  { group: 'notification.toolkit.fluxcd.io', version: 'v1beta3', kind: 'Alert', plural: 'alerts' },
  { group: 'notification.toolkit.fluxcd.io', version: 'v1', kind: 'Receiver', plural: 'receivers' },
  { group: '', version: 'v1', kind: 'Secret', plural: 'secrets' },
  { group: '', version: 'v1', kind: 'Event', plural: 'events' },
  { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', statusSubresource: false },
  { group: 'source.toolkit.fluxcd.io', version: 'v1', kind: 'GitRepository', plural: 'gitrepositories' },
  { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', kind: 'Kustomization', plural: 'kustomizations' },
  { group: 'helm.toolkit.fluxcd.io', version: 'v2', kind: 'HelmRelease', plural: 'helmreleases' },
  // Image automation (its plurals are not kind + "s"); v1beta2 served beside v1, as Herald's CRDs do.
  ...imageTypes(),
];

function imageTypes(): ResourceType[] {
  const kinds = [
    { kind: 'ImageRepository', plural: 'imagerepositories' },
    { kind: 'ImagePolicy', plural: 'imagepolicies' },
    { kind: 'ImageUpdateAutomation', plural: 'imageupdateautomations' },
  ];
  return ['v1', 'v1beta2'].flatMap((version) => kinds.map((k) => ({ group: 'image.toolkit.fluxcd.io', version, ...k })));
}

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  private readonly types = new Map<string, ResourceType>();
  /** By `resourceKey|namespace|name`. */
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private readonly failures: InjectedFailure[] = [];
  private rv = 100;
  /** Watches from a resourceVersion below this are too old. */
  private compactedRv = 0;
  /** How a too-old watch is refused: an ERROR event in a 200 stream (the real default) or an HTTP 410. */
  goneStyle: 'event' | 'http' = 'event';
  private server = createServer((req, res) => void this.handle(req, res));
  url = '';
  kubeconfigPath = '';
  private tmpDir = '';

  static async start(): Promise<FakeApiServer> {
    const api = new FakeApiServer();
    for (const type of BUILTIN_TYPES) api.register(type);
    api.server.on('connection', (socket) => {
      api.sockets.add(socket);
      socket.on('close', () => api.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    api.url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    api.tmpDir = await makeTempDir('herald-fake-api-');
    api.kubeconfigPath = join(api.tmpDir, 'kubeconfig');
    await writeFile(api.kubeconfigPath, api.kubeconfig());
    return api;
  }

  /** A kubeconfig pointing at this server, without credentials (plain HTTP). */
  kubeconfig(namespace = 'default'): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: fake',
      '    cluster:',
      `      server: ${this.url}`,
      // The client refuses plain HTTP unless TLS verification is off (there is no TLS to verify).
      '      insecure-skip-tls-verify: true',
      'users:',
      '  - name: fake',
      '    user: {}',
      'contexts:',
      '  - name: fake',
      '    context:',
      '      cluster: fake',
      '      user: fake',
      `      namespace: ${namespace}`,
      'current-context: fake',
      '',
    ].join('\n');
  }

  register(type: ResourceType): void {
    this.types.set(resourceKey(type.group, type.version, type.plural), type);
  }

  /** Turns the status subresource of a resource on or off (off: as a CRD without `subresources.status`). */
  setStatusSubresource(plural: string, enabled: boolean): void {
    for (const type of this.types.values()) if (type.plural === plural) type.statusSubresource = enabled;
  }

  // ---- what kubectl would do -------------------------------------------------------------

  /** Creates or updates (spec, labels, annotations; status untouched) like `kubectl apply`. */
  apply(input: KubeObject): KubeObject {
    const type = this.typeOfObject(input);
    const namespace = input.metadata.namespace ?? 'default';
    const existing = this.objects.get(objectKey(type, namespace, input.metadata.name));
    if (!existing) return this.doCreate(type, namespace, structuredClone(input));
    const next: KubeObject = { ...structuredClone(input), metadata: { ...existing.metadata, ...structuredClone(input.metadata) } };
    if (hasStatus(type) && existing.status !== undefined) next.status = existing.status;
    else if (hasStatus(type)) delete next.status;
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    return this.doUpdate(type, namespace, next);
  }

  remove(apiVersion: string, kind: string, namespace: string, name: string): boolean {
    const type = this.typeOf(apiVersion, kind);
    return this.doDelete(type, namespace, name) !== undefined;
  }

  get(apiVersion: string, kind: string, namespace: string, name: string): KubeObject | undefined {
    const obj = this.objects.get(objectKey(this.typeOf(apiVersion, kind), namespace, name));
    return obj && structuredClone(obj);
  }

  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    const type = this.typeOf(apiVersion, kind);
    return this.matching(type, namespace, () => true).map((o) => structuredClone(o));
  }

  /** Changes an object without telling any watcher, and compacts the history past it: as if the events were lost. */
  setSilently(input: KubeObject): void {
    const type = this.typeOfObject(input);
    const namespace = input.metadata.namespace ?? 'default';
    const key = objectKey(type, namespace, input.metadata.name);
    const existing = this.objects.get(key);
    const obj = structuredClone(input);
    obj.apiVersion = apiVersionOf(type);
    obj.kind = type.kind;
    obj.metadata = { ...existing?.metadata, ...obj.metadata, namespace, resourceVersion: String(++this.rv) };
    obj.metadata.uid ??= randomUUID();
    if (type.group) obj.metadata.generation = (existing?.metadata.generation ?? 0) + 1;
    this.objects.set(key, obj);
    this.compactedRv = this.rv;
  }

  /** Deletes an object without telling any watcher (history compacted past it). */
  removeSilently(apiVersion: string, kind: string, namespace: string, name: string): void {
    this.objects.delete(objectKey(this.typeOf(apiVersion, kind), namespace, name));
    this.rv++;
    this.compactedRv = this.rv;
  }

  // ---- protocol faults ---------------------------------------------------------------------

  /**
   * Compacts the history and ends every open watch with an `ERROR` event carrying a 410
   * `Status`, as the API server does when a watcher falls behind; clients must relist.
   */
  expireWatches(): void {
    this.compactedRv = this.rv;
    const status = statusObject(410, 'Expired', `too old resource version: ${this.rv} (${this.compactedRv})`);
    for (const watcher of [...this.watchers]) {
      watcher.res.write(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      watcher.res.end();
      this.watchers.delete(watcher);
    }
  }

  /** Ends every open watch cleanly, as a server-side watch timeout does. */
  closeWatches(): void {
    for (const watcher of [...this.watchers]) {
      watcher.res.end();
      this.watchers.delete(watcher);
    }
  }

  /** Sends a BOOKMARK with the current resourceVersion on every open watch. */
  bookmark(): void {
    for (const watcher of this.watchers) {
      const object = { apiVersion: apiVersionOf(watcher.type), kind: watcher.type.kind, metadata: { resourceVersion: String(this.rv) } };
      watcher.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
    }
  }

  /** The next `count` requests whose path matches answer `status` (e.g. 500, 503). */
  failNext(path: RegExp, status: number, count = 1, method?: string): void {
    this.failures.push({ path, status, remaining: count, method });
  }

  /** How many list (non-watch GET collection) requests hit a path so far. */
  listCount(path: RegExp): number {
    return this.requests.filter((r) => r.method === 'GET' && path.test(r.path) && r.query.watch === undefined && isCollectionPath(r.path))
      .length;
  }

  openWatches(): number {
    return this.watchers.size;
  }

  /** Core v1 Events created so far (in the order they were created), with their current count. */
  events(namespace?: string): KubeObject[] {
    return this.list('v1', 'Event', namespace).sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
  }

  async close(): Promise<void> {
    for (const watcher of this.watchers) watcher.res.destroy();
    this.watchers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.tmpDir) await rm(this.tmpDir, { recursive: true, force: true });
  }

  // ---- HTTP --------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const bodyText = await readBody(req);
    let body: unknown;
    try {
      body = bodyText ? JSON.parse(bodyText) : undefined;
    } catch {
      return send(res, 400, statusObject(400, 'BadRequest', 'body is not JSON'));
    }
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query, contentType: req.headers['content-type'], accept: req.headers.accept, body });

    const failure = this.failures.find((f) => f.remaining > 0 && f.path.test(url.pathname) && (!f.method || f.method === method));
    if (failure) {
      failure.remaining--;
      return send(res, failure.status, statusObject(failure.status, 'InternalError', 'injected failure'));
    }

    const route = this.route(url.pathname);
    if (!route) return send(res, 404, statusObject(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
    const { type, namespace, name, subresource } = route;

    try {
      if (!name) {
        if (method === 'GET' && (query.watch === 'true' || query.watch === '1')) return this.watch(res, type, namespace, query);
        if (method === 'GET') return send(res, 200, this.listBody(type, namespace, query));
        if (method === 'POST') {
          if (!namespace) return send(res, 405, statusObject(405, 'MethodNotAllowed', 'create needs a namespace'));
          return send(res, 201, this.createFromRequest(type, namespace, body as KubeObject));
        }
        return send(res, 405, statusObject(405, 'MethodNotAllowed', `${method} on a collection`));
      }
      if (!namespace) return send(res, 404, statusObject(404, 'NotFound', 'only namespaced resources are served'));
      const key = objectKey(type, namespace, name);
      const existing = this.objects.get(key);
      if (subresource && (subresource !== 'status' || !hasStatus(type))) {
        return send(res, 404, statusObject(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
      }
      if (method === 'GET') {
        if (!existing) return send(res, 404, notFound(type, name));
        return send(res, 200, existing);
      }
      if (method === 'DELETE') {
        const deleted = this.doDelete(type, namespace, name);
        if (!deleted) return send(res, 404, notFound(type, name));
        return send(res, 200, deleted);
      }
      if (!existing) return send(res, 404, notFound(type, name));
      if (method === 'PUT') {
        const next = body as KubeObject;
        if (next?.metadata?.resourceVersion && next.metadata.resourceVersion !== existing.metadata.resourceVersion) {
          return send(res, 409, conflict(type, name));
        }
        validateMicroTimes(type, next);
        const merged = subresource === 'status' ? { ...existing, status: next.status } : withStatusOf(type, next, existing);
        merged.metadata = { ...existing.metadata, ...next.metadata, resourceVersion: existing.metadata.resourceVersion };
        return send(res, 200, this.doUpdate(type, namespace, merged));
      }
      if (method === 'PATCH') {
        const contentType = (req.headers['content-type'] ?? '').split(';')[0];
        if (contentType !== 'application/merge-patch+json' && contentType !== 'application/strategic-merge-patch+json') {
          return send(res, 415, statusObject(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (got ${contentType})`));
        }
        const patch = body as Record<string, unknown>;
        let next: KubeObject;
        if (subresource === 'status') {
          next = { ...structuredClone(existing), status: mergePatch(existing.status, patch?.status) };
        } else {
          next = mergePatch(existing, patch) as KubeObject;
          if (hasStatus(type)) next.status = existing.status;
        }
        validateMicroTimes(type, next);
        next.metadata.resourceVersion = existing.metadata.resourceVersion;
        return send(res, 200, this.doUpdate(type, namespace, next));
      }
      return send(res, 405, statusObject(405, 'MethodNotAllowed', method));
    } catch (err) {
      if (err instanceof ApiError) return send(res, err.status.code, err.status);
      throw err;
    }
  }

  private route(pathname: string): { type: ResourceType; namespace?: string; name?: string; subresource?: string } | undefined {
    const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 3) {
      [group, version, rest] = ['', parts[1] as string, parts.slice(2)];
    } else if (parts[0] === 'apis' && parts.length >= 4) {
      [group, version, rest] = [parts[1] as string, parts[2] as string, parts.slice(3)];
    } else {
      return undefined;
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource] = rest;
    const type = this.types.get(resourceKey(group, version, plural ?? ''));
    if (!type || rest.length > 3) return undefined;
    return { type, namespace, name, subresource };
  }

  private listBody(type: ResourceType, namespace: string | undefined, query: Record<string, string>): unknown {
    const matches = selectorFilter(query);
    const items = this.matching(type, namespace, matches).map((obj) => (type.group === '' ? withoutTypeMeta(obj) : obj));
    return {
      apiVersion: apiVersionOf(type),
      kind: `${type.kind}List`,
      metadata: { resourceVersion: String(this.rv) },
      items,
    };
  }

  private watch(res: ServerResponse, type: ResourceType, namespace: string | undefined, query: Record<string, string>): void {
    const from = query.resourceVersion ?? '';
    const fromRv = from === '' || from === '0' ? undefined : Number(from);
    if (fromRv !== undefined && fromRv < this.compactedRv) {
      const status = statusObject(410, 'Expired', `too old resource version: ${fromRv} (${this.compactedRv})`);
      if (this.goneStyle === 'http') return send(res, 410, status);
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.write(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders(); // the real server answers at once, events follow
    const matches = selectorFilter(query);
    // Watches are per version, but every version of a resource sees its objects.
    const resource = resourceKey(type.group, '', type.plural);
    const watcher: Watcher = { resource, namespace, matches, res, type };
    if (fromRv === undefined) {
      for (const obj of this.matching(type, namespace, matches)) res.write(`${JSON.stringify({ type: 'ADDED', object: obj })}\n`);
    } else {
      for (const entry of this.history) {
        if (entry.rv > fromRv && this.watcherWants(watcher, entry.resource, entry.object)) {
          res.write(`${JSON.stringify({ type: entry.type, object: entry.object })}\n`);
        }
      }
    }
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
    const timeout = Number(query.timeoutSeconds);
    if (timeout > 0) {
      setTimeout(() => {
        this.watchers.delete(watcher);
        res.end();
      }, timeout * 1000).unref();
    }
  }

  private watcherWants(watcher: Watcher, resource: string, obj: KubeObject): boolean {
    if (watcher.resource !== resource) return false;
    if (watcher.namespace && obj.metadata.namespace !== watcher.namespace) return false;
    return watcher.matches(obj);
  }

  private matching(type: ResourceType, namespace: string | undefined, matches: (o: KubeObject) => boolean): KubeObject[] {
    const prefix = `${resourceKey(type.group, '', type.plural)}|`;
    return [...this.objects.entries()]
      .filter(([key, obj]) => key.startsWith(prefix) && (!namespace || obj.metadata.namespace === namespace) && matches(obj))
      .map(([, obj]) => obj)
      .sort((a, b) => objectOrder(a).localeCompare(objectOrder(b)));
  }

  private createFromRequest(type: ResourceType, namespace: string, body: KubeObject): KubeObject {
    if (!body?.metadata) throw new ApiError(statusObject(400, 'BadRequest', 'metadata is required'));
    if (body.metadata.namespace && body.metadata.namespace !== namespace) {
      throw new ApiError(statusObject(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
    }
    if (!body.metadata.name && typeof body.metadata.generateName === 'string') body.metadata.name = `${body.metadata.generateName}${randomUUID().slice(0, 5)}`;
    validateMicroTimes(type, body);
    return this.doCreate(type, namespace, structuredClone(body));
  }

  private doCreate(type: ResourceType, namespace: string, obj: KubeObject): KubeObject {
    const key = objectKey(type, namespace, obj.metadata.name);
    if (this.objects.has(key)) {
      throw new ApiError(statusObject(409, 'AlreadyExists', `${type.plural}${type.group ? `.${type.group}` : ''} "${obj.metadata.name}" already exists`));
    }
    obj.apiVersion = apiVersionOf(type);
    obj.kind = type.kind;
    obj.metadata = {
      ...obj.metadata,
      namespace,
      uid: randomUUID(),
      resourceVersion: String(++this.rv),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    if (type.group) obj.metadata.generation = 1;
    if (hasStatus(type)) delete obj.status;
    this.objects.set(key, obj);
    this.record('ADDED', type, obj);
    return structuredClone(obj);
  }

  private doUpdate(type: ResourceType, namespace: string, next: KubeObject): KubeObject {
    const key = objectKey(type, namespace, next.metadata.name);
    const existing = this.objects.get(key);
    if (!existing) throw new ApiError(notFound(type, next.metadata.name));
    next.apiVersion = apiVersionOf(type);
    next.kind = type.kind;
    next.metadata.namespace = namespace;
    next.metadata.uid = existing.metadata.uid;
    next.metadata.creationTimestamp = existing.metadata.creationTimestamp;
    if (type.group) {
      next.metadata.generation = (existing.metadata.generation ?? 1) + (specOf(existing) === specOf(next) ? 0 : 1);
    }
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(existing)) return structuredClone(existing); // a no-op write
    next.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key, next);
    this.record('MODIFIED', type, next);
    return structuredClone(next);
  }

  private doDelete(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const key = objectKey(type, namespace, name);
    const existing = this.objects.get(key);
    if (!existing) return undefined;
    this.objects.delete(key);
    const deleted = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(++this.rv) } };
    this.record('DELETED', type, deleted);
    return structuredClone(deleted);
  }

  private record(eventType: HistoryEntry['type'], type: ResourceType, object: KubeObject): void {
    const resource = resourceKey(type.group, '', type.plural);
    const entry: HistoryEntry = { rv: this.rv, type: eventType, resource, object: structuredClone(object) };
    this.history.push(entry);
    if (this.history.length > 10_000) this.history.splice(0, 1000);
    for (const watcher of this.watchers) {
      if (this.watcherWants(watcher, resource, object)) watcher.res.write(`${JSON.stringify({ type: eventType, object })}\n`);
    }
  }

  private typeOf(apiVersion: string, kind: string): ResourceType {
    const slash = apiVersion.lastIndexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    for (const type of this.types.values()) if (type.group === group && type.kind === kind && type.version === version) return type;
    for (const type of this.types.values()) {
      if (type.group === group && type.kind === kind) {
        const other = { ...type, version };
        this.register(other);
        return other;
      }
    }
    const plural = `${kind.toLowerCase()}s`;
    const created: ResourceType = { group, version, kind, plural };
    this.register(created);
    return created;
  }

  private typeOfObject(obj: KubeObject): ResourceType {
    if (!obj.apiVersion || !obj.kind) throw new Error('apiVersion and kind are required');
    return this.typeOf(obj.apiVersion, obj.kind);
  }
}

class ApiError extends Error {
  constructor(readonly status: { code: number } & Record<string, unknown>) {
    super(String(status.message));
  }
}

function resourceKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}

/** Objects are stored once per (group, plural), whatever the version they were written in. */
function objectKey(type: ResourceType, namespace: string, name: string): string {
  return `${resourceKey(type.group, '', type.plural)}|${namespace}|${name}`;
}

function objectOrder(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

function hasStatus(type: ResourceType): boolean {
  return type.statusSubresource ?? type.group !== '';
}

function isCollectionPath(path: string): boolean {
  const parts = path.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  return rest[0] === 'namespaces' ? rest.length === 3 : rest.length === 1;
}

function specOf(obj: KubeObject): string {
  // The version an object is read or written at is no change to it (one stored object per resource).
  const { metadata: _m, status: _s, apiVersion: _v, ...rest } = obj;
  return JSON.stringify(rest);
}

function withStatusOf(type: ResourceType, next: KubeObject, existing: KubeObject): KubeObject {
  const merged = structuredClone(next);
  if (hasStatus(type)) {
    if (existing.status === undefined) delete merged.status;
    else merged.status = existing.status;
  }
  return merged;
}

function withoutTypeMeta(obj: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  return rest as KubeObject;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? structuredClone(target as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function selectorFilter(query: Record<string, string>): (obj: KubeObject) => boolean {
  const fields = parseSelector(query.fieldSelector);
  const labels = parseSelector(query.labelSelector);
  return (obj) =>
    fields.every(([key, value]) => (key === 'metadata.name' ? obj.metadata.name : key === 'metadata.namespace' ? obj.metadata.namespace : undefined) === value) &&
    labels.every(([key, value]) => obj.metadata.labels?.[key] === value);
}

function parseSelector(text: string | undefined): Array<[string, string]> {
  if (!text) return [];
  return text.split(',').map((term) => {
    const [key = '', value = ''] = term.split(/==?/);
    return [key.trim(), value.trim()];
  });
}

function validateMicroTimes(type: ResourceType, obj: KubeObject): void {
  const fields: Array<[string, unknown]> = [];
  if (type.kind === 'Lease') {
    const spec = (obj.spec ?? {}) as Record<string, unknown>;
    fields.push(['spec.acquireTime', spec.acquireTime], ['spec.renewTime', spec.renewTime]);
  }
  if (type.kind === 'Event') fields.push(['eventTime', obj.eventTime]);
  for (const [field, value] of fields) {
    if (value !== undefined && value !== null && (typeof value !== 'string' || !MICRO_TIME.test(value))) {
      throw new ApiError(
        statusObject(400, 'BadRequest', `${field}: parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`),
      );
    }
  }
}

function statusObject(code: number, reason: string, message: string): { code: number } & Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function notFound(type: ResourceType, name: string) {
  return statusObject(404, 'NotFound', `${type.plural}${type.group ? `.${type.group}` : ''} "${name}" not found`);
}

function conflict(type: ResourceType, name: string) {
  return statusObject(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${type.plural}${type.group ? `.${type.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
  );
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---- objects and helpers for the Kubernetes-mode tests ------------------------------------

export const NOTIFICATION_V1BETA3 = 'notification.toolkit.fluxcd.io/v1beta3';

export function kubeConfigFor(api: FakeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  return kc;
}

export function providerObject(name: string, spec: Record<string, unknown>, namespace = 'flux-system'): KubeObject {
  return { apiVersion: NOTIFICATION_V1BETA3, kind: 'Provider', metadata: { name, namespace }, spec };
}

export function alertObject(name: string, spec: Record<string, unknown>, namespace = 'flux-system'): KubeObject {
  return {
    apiVersion: NOTIFICATION_V1BETA3,
    kind: 'Alert',
    metadata: { name, namespace },
    spec: { eventSources: [{ kind: 'Kustomization', name: '*' }], ...spec },
  };
}

export function secretObject(name: string, data: Record<string, string>, namespace = 'flux-system'): KubeObject {
  const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque', data: encoded };
}

/** `until` (test/support/wait.ts) with the positional arguments the Kubernetes tests use. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  return (await until(check, { timeoutMs: ms, intervalMs: 25, what })) as NonNullable<T>;
}

/** The Ready condition in an object's status, if any. */
export function readyConditionOf(obj: KubeObject | undefined): Record<string, unknown> | undefined {
  const conditions = (obj?.status as { conditions?: Array<Record<string, unknown>> } | undefined)?.conditions ?? [];
  return conditions.find((c) => c.type === 'Ready');
}
