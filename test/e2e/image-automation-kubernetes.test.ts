/**
 * Image automation in Kubernetes mode, end to end: Herald as a process with `--kubernetes`
 * against the fake API server (test/support/fake-apiserver.ts), the image objects, a
 * GitRepository, a Provider and an Alert applied there; a stand-in registry on loopback; a bare
 * Git repository with a `$imagepolicy` marker; a sink behind the Alert.
 *
 * The story, in order: while another replica holds the `herald-image-automation` Lease, Herald
 * stands by (no scan, no status, no push); once that Lease is released it takes it, scans,
 * selects, pushes, writes the statuses through the status subresource, records Kubernetes
 * Events on the objects, and the events reach the sink through the Alert; a new tag goes the
 * same way; at SIGTERM it releases the Lease. With Redis, a replica that takes over from the
 * statuses in the API neither rescans nor announces anything again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer, NOTIFICATION_V1BETA3, alertObject, eventually, providerObject, readyConditionOf, type KubeObject } from '../support/fake-apiserver.js';
import { bareRepo, cloneOf, git, type BareRepo } from '../support/git-repos.js';
import { startHerald, type HeraldProcess } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startStandin, type Standin } from '../support/registry-standin.js';
import { startSink, type Sink } from '../support/sink.js';
import { sleep, untilPasses } from '../support/wait.js';

const NS = 'flux-system';
const IMAGE_V1 = 'image.toolkit.fluxcd.io/v1';
const LEASE = 'herald-image-automation';

let api: FakeApiServer;
let registry: Standin;
let sink: Sink;
let repo: BareRepo;
let image: string;
let herald: HeraldProcess | undefined;
const prefix = uniquePrefix('image-kube');

function deployment(ref: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: app
          image: ${ref} # {"$imagepolicy": "${NS}:app"}
`;
}

/** MicroTime, as the API server insists on for Leases. */
const microNow = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

function lease(holderIdentity: string): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: LEASE, namespace: NS },
    spec: { holderIdentity, leaseDurationSeconds: 3600, acquireTime: microNow(), renewTime: microNow() },
  };
}

const holder = () => (api.get('coordination.k8s.io/v1', 'Lease', NS, LEASE)?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
const statusOf = (kind: string, name: string) => api.get(IMAGE_V1, kind, NS, name)?.status as Record<string, any> | undefined;
const imageStatusPatches = () => api.requests.filter((r) => r.method === 'PATCH' && r.path.startsWith('/apis/image.toolkit.fluxcd.io/') && r.path.endsWith('/status'));
const commits = () => Number(git(cloneOf(repo), 'rev-list', '--count', 'HEAD').trim());

interface ReceivedEvent {
  involvedObject: { kind: string; name: string; namespace: string; apiVersion: string };
  reason: string;
  message: string;
  severity: string;
  reportingController: string;
}
const received = (): ReceivedEvent[] => sink.requests.filter((r) => r.url === '/hook').map((r) => JSON.parse(r.body) as ReceivedEvent);

async function start(extraArgs: string[] = []): Promise<HeraldProcess> {
  herald = await startHerald({ kubernetes: true, env: { KUBECONFIG: api.kubeconfigPath, HERALD_POD_NAMESPACE: NS }, redisUrl: REDIS_URL, extraArgs: ['--redis-prefix', prefix, ...extraArgs] });
  return herald;
}

beforeAll(async () => {
  api = await FakeApiServer.start();
  registry = await startStandin({ repositories: { 'team/app': ['1.0.0', '1.1.0', 'latest'] } });
  image = `${registry.host}/team/app`;
  sink = await startSink();
  repo = bareRepo({ 'deploy/app.yaml': deployment(`${image}:1.0.0`), 'README.md': 'fleet\n' });
  api.apply(providerObject('sink', { type: 'generic', address: `${sink.url}/hook` }));
  api.apply(
    alertObject('images', {
      providerRef: { name: 'sink' },
      eventSources: [
        { kind: 'ImageRepository', name: '*' },
        { kind: 'ImagePolicy', name: '*' },
        { kind: 'ImageUpdateAutomation', name: '*' },
      ],
    }),
  );
  api.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: NS }, spec: { url: repo.url, interval: '1m', ref: { branch: 'main' } } });
  api.apply({ apiVersion: IMAGE_V1, kind: 'ImageRepository', metadata: { name: 'app', namespace: NS }, spec: { image, interval: '2s' } });
  // Written as v1beta2, read by Herald as v1 (the CRD serves both).
  api.apply({ apiVersion: 'image.toolkit.fluxcd.io/v1beta2', kind: 'ImagePolicy', metadata: { name: 'app', namespace: NS }, spec: { imageRepositoryRef: { name: 'app' }, policy: { semver: { range: '>=1.0.0' } } } });
  api.apply({
    apiVersion: IMAGE_V1,
    kind: 'ImageUpdateAutomation',
    metadata: { name: 'fleet', namespace: NS },
    spec: {
      interval: '1h',
      sourceRef: { kind: 'GitRepository', name: 'fleet' },
      git: { commit: { author: { name: 'Herald Bot', email: 'herald@example.com' }, messageTemplate: 'Update {{ range .Changed.Changes }}{{ .OldValue }} -> {{ .NewValue }}{{ end }}' }, push: { branch: 'main' } },
      update: { path: './deploy', strategy: 'Setters' },
    },
  });
  // Another replica holds the image automation Lease (valid for an hour).
  api.apply(lease('other-replica'));
});

afterAll(async () => {
  await herald?.stop();
  await herald?.cleanup();
  await sink?.close();
  await registry?.close();
  await api?.close();
  await deletePrefix(prefix);
});

describe('image automation in Kubernetes mode', () => {
  it('stands by while another replica holds the Lease: no scan, no status, no push', async () => {
    const h = await start();
    // Herald itself is up: it writes the Provider's status (the other Lease is free).
    await eventually(() => readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Provider', NS, 'sink'))?.status === 'True', 10_000, 'provider status');
    // It has read the image objects and campaigns for their Lease...
    await eventually(() => api.requests.some((r) => r.method === 'GET' && r.path === `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${LEASE}`), 10_000, 'a Lease read');
    await sleep(2_500);
    // ...but does nothing while it is held elsewhere.
    expect(holder()).toBe('other-replica');
    expect(registry.requests).toEqual([]);
    expect(imageStatusPatches()).toEqual([]);
    expect(commits()).toBe(1);
    expect(received()).toEqual([]);
    expect(h.output.some((l) => l.includes('image automation started'))).toBe(false);
  }, 30_000);

  it('once the Lease is free: scans, selects, pushes, writes the statuses, records Events, and the events reach the sink', async () => {
    const h = herald as HeraldProcess;
    api.apply(lease('')); // released
    await eventually(() => holder()?.endsWith(`_${h.pid}`), 15_000, 'the Lease taken');

    await untilPasses(() => expect(commits()).toBe(2), { timeoutMs: 30_000, what: 'a commit pushed' });
    const clone = cloneOf(repo);
    expect(git(clone, 'log', '-1', '--format=%an <%ae>%n%B').trim()).toBe(`Herald Bot <herald@example.com>\nUpdate ${image}:1.0.0 -> ${image}:1.1.0`);
    const head = git(clone, 'rev-parse', 'HEAD').trim();

    // Statuses, through the status subresource, with what Flux keeps there.
    await untilPasses(() => {
      const repository = statusOf('ImageRepository', 'app');
      expect(readyConditionOf({ metadata: { name: 'app' }, status: repository })).toMatchObject({ status: 'True', reason: 'Succeeded', message: expect.stringMatching(/^successful scan: found 3 tags with checksum sha256:/) });
      expect(repository).toMatchObject({ observedGeneration: 1, canonicalImageName: image, lastScanResult: { tagCount: 3, latestTags: ['latest', '1.1.0', '1.0.0'] } });
      const policy = statusOf('ImagePolicy', 'app');
      expect(policy).toMatchObject({ observedGeneration: 1, latestRef: { name: image, tag: '1.1.0' } });
      expect(readyConditionOf({ metadata: { name: 'app' }, status: policy })).toMatchObject({ status: 'True', reason: 'Succeeded', message: `Latest image tag for ${image} resolved to 1.1.0` });
      const automation = statusOf('ImageUpdateAutomation', 'fleet');
      expect(automation).toMatchObject({ observedGeneration: 1, lastPushCommit: head, observedPolicies: { app: { name: image, tag: '1.1.0' } } });
      expect(automation?.lastPushTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(readyConditionOf({ metadata: { name: 'fleet' }, status: automation })).toMatchObject({ status: 'True', reason: 'Succeeded', message: 'repository up-to-date' });
    }, { timeoutMs: 15_000, what: 'statuses written' });
    expect(imageStatusPatches().every((r) => r.contentType === 'application/merge-patch+json')).toBe(true);

    // Events through Herald's pipeline and the Alert, as Flux's controllers would have POSTed them.
    await untilPasses(() => {
      const events = received();
      expect(events.find((e) => e.involvedObject.kind === 'ImageRepository')).toMatchObject({ severity: 'info', reason: 'Succeeded', reportingController: 'image-reflector-controller', involvedObject: { apiVersion: IMAGE_V1 } });
      expect(events.find((e) => e.involvedObject.kind === 'ImagePolicy')?.message).toBe(`Latest image tag for ${image} resolved to 1.1.0`);
      expect(events.find((e) => e.involvedObject.kind === 'ImageUpdateAutomation')).toMatchObject({
        severity: 'info',
        reason: 'Succeeded',
        reportingController: 'image-automation-controller',
        message: `pushed commit '${head.slice(0, 7)}' to branch 'main'\nUpdate ${image}:1.0.0 -> ${image}:1.1.0`,
      });
      expect(events.filter((e) => e.severity === 'error')).toEqual([]);
    }, { timeoutMs: 15_000, what: 'events at the sink' });

    // And as Kubernetes Events on the objects.
    await untilPasses(() => {
      const events = api.events(NS).filter((e) => (e.involvedObject as { kind: string }).kind === 'ImageUpdateAutomation');
      expect(events[0]).toMatchObject({
        type: 'Normal',
        reason: 'Succeeded',
        involvedObject: { apiVersion: IMAGE_V1, kind: 'ImageUpdateAutomation', name: 'fleet', namespace: NS },
        source: { component: 'image-automation-controller' },
      });
      expect(api.events(NS).some((e) => (e.involvedObject as { kind: string }).kind === 'ImageRepository')).toBe(true);
      // Flux's trace events are never POSTed, but recorded: the rescans (every 2s) of the same tags.
      expect(api.events(NS).find((e) => (e.involvedObject as { kind: string }).kind === 'ImageRepository' && String(e.message).startsWith('tags did not change'))).toMatchObject({
        type: 'Normal',
        reason: 'Succeeded',
        message: 'tags did not change, next scan in 2s',
      });
    }, { timeoutMs: 10_000, what: 'Kubernetes Events' });

    // Settled: unchanged statuses are not written again (the repository's rescans every 2s move
    // its scan time, so only it may be written; the same tags announce nothing).
    const written = imageStatusPatches().length;
    const eventCount = received().length;
    await sleep(2_500);
    const later = imageStatusPatches().slice(written);
    expect(later.filter((r) => !r.path.includes('/imagerepositories/'))).toEqual([]);
    for (const r of later) expect(Object.keys((r.body as { status: object }).status)).toEqual(['lastScanResult']);
    expect(received().length).toBe(eventCount);
  }, 90_000);

  it('a new tag: the next scan moves the policy, the automation pushes again and its status follows', async () => {
    registry.options.repositories['team/app']?.push('1.2.0');
    await untilPasses(() => expect(commits()).toBe(3), { timeoutMs: 30_000, what: 'a second commit' });
    const head = git(cloneOf(repo), 'rev-parse', 'HEAD').trim();
    await untilPasses(() => {
      expect(statusOf('ImagePolicy', 'app')).toMatchObject({ latestRef: { tag: '1.2.0' }, observedPreviousRef: { tag: '1.1.0' } });
      expect(statusOf('ImageUpdateAutomation', 'fleet')).toMatchObject({ lastPushCommit: head, observedPolicies: { app: { tag: '1.2.0' } } });
    }, { timeoutMs: 15_000, what: 'statuses after the second push' });
  }, 60_000);

  it('a second replica beside the leader stands by: it loads the objects, never starts the controller, and leaves the Lease alone', async () => {
    const leader = herald as HeraldProcess;
    const second = await startHerald({ kubernetes: true, env: { KUBECONFIG: api.kubeconfigPath, HERALD_POD_NAMESPACE: NS }, redisUrl: REDIS_URL, extraArgs: ['--redis-prefix', prefix] });
    try {
      await eventually(() => second.output.some((l) => l.includes('image automation objects loaded from Kubernetes')), 10_000, 'objects loaded by the second replica');
      await sleep(3_000); // more than one retry interval of its elector
      expect(holder()).toMatch(new RegExp(`_${leader.pid}$`));
      expect(second.output.some((l) => l.includes('image automation started'))).toBe(false);
      const resources = (await (await fetch(`${second.healthUrl}/resources`)).json()) as { resources: Array<{ kind: string }> };
      expect(resources.resources.filter((r) => r.kind.startsWith('Image'))).toEqual([]);
    } finally {
      expect(await second.stop('SIGTERM', 20_000)).toBe(0);
      await second.cleanup();
    }
    expect(holder()).toMatch(new RegExp(`_${leader.pid}$`));
  }, 60_000);

  it('wrong registry credentials from a watched Secret: Ready=False with the cause, a Warning Event, an error at the sink, no secret anywhere; a fixed Secret recovers', async () => {
    const secure = await startStandin({ repositories: { 'team/private': ['2.0.0'] }, auth: 'basic', users: { bot: 'right-password' } });
    try {
      const dockerConfig = (password: string) => ({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'registry-auth', namespace: NS },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { [secure.host]: { username: 'bot', password } } })).toString('base64') },
      });
      api.apply(dockerConfig('wrong-password-42'));
      api.apply({ apiVersion: IMAGE_V1, kind: 'ImageRepository', metadata: { name: 'private', namespace: NS }, spec: { image: `${secure.host}/team/private`, interval: '1h', secretRef: { name: 'registry-auth' } } });
      await untilPasses(() => {
        const condition = readyConditionOf({ metadata: { name: 'private' }, status: statusOf('ImageRepository', 'private') });
        expect(condition).toMatchObject({ status: 'False', reason: expect.stringMatching(/^(ReadOperationFailed|AuthenticationFailed)$/) });
        expect(String(condition?.message)).toMatch(/401|unauthorized/i);
      }, { timeoutMs: 15_000, what: 'Ready=False written' });
      await untilPasses(() => {
        expect(received().find((e) => e.involvedObject.name === 'private')).toMatchObject({ severity: 'error', involvedObject: { kind: 'ImageRepository' } });
        expect(api.events(NS).find((e) => (e.involvedObject as { name: string }).name === 'private')).toMatchObject({ type: 'Warning', source: { component: 'image-reflector-controller' } });
      }, { timeoutMs: 10_000, what: 'the error event and the Warning Event' });
      const everything = JSON.stringify([statusOf('ImageRepository', 'private'), received(), api.events(NS), (herald as HeraldProcess).output]);
      expect(everything).not.toContain('wrong-password-42');
      expect(everything).not.toContain(Buffer.from('bot:wrong-password-42').toString('base64'));

      // The Secret is watched: fixing it (and asking for a reconcile, as `flux reconcile` does) recovers.
      api.apply(dockerConfig('right-password'));
      api.apply({
        apiVersion: IMAGE_V1,
        kind: 'ImageRepository',
        metadata: { name: 'private', namespace: NS, annotations: { 'reconcile.fluxcd.io/requestedAt': new Date().toISOString() } },
        spec: { image: `${secure.host}/team/private`, interval: '1h', secretRef: { name: 'registry-auth' } },
      });
      await untilPasses(() => expect(statusOf('ImageRepository', 'private')).toMatchObject({ lastScanResult: { tagCount: 1 } }), { timeoutMs: 15_000, what: 'a scan with the fixed Secret' });
      expect(readyConditionOf({ metadata: { name: 'private' }, status: statusOf('ImageRepository', 'private') })?.status).toBe('True');
    } finally {
      api.remove(IMAGE_V1, 'ImageRepository', NS, 'private');
      await secure.close();
    }
  }, 60_000);

  it('SIGTERM releases the Lease; a new replica takes over from the statuses in the API (and the tags in Redis): no rescan, no event again', async () => {
    // A longer interval first, so that any scan after the restart would be one too soon.
    api.apply({ apiVersion: IMAGE_V1, kind: 'ImageRepository', metadata: { name: 'app', namespace: NS }, spec: { image, interval: '1h' } });
    await eventually(() => statusOf('ImageRepository', 'app')?.observedGeneration === 2, 15_000, 'generation 2 observed');
    expect(await (herald as HeraldProcess).stop('SIGTERM', 20_000)).toBe(0);
    await herald?.cleanup();
    expect(holder()).toBe('');
    const scans = registry.requests.length;
    const events = received().length;
    const pushed = commits();

    const next = await start();
    await eventually(() => holder()?.endsWith(`_${next.pid}`), 15_000, 'the Lease taken by the new replica');
    await eventually(() => next.output.some((l) => l.includes('image automation started')), 10_000, 'image automation started');
    await sleep(2_000);
    expect(registry.requests.length).toBe(scans);
    expect(received().slice(events)).toEqual([]);
    expect(commits()).toBe(pushed);
    expect(readyConditionOf({ metadata: { name: 'fleet' }, status: statusOf('ImageUpdateAutomation', 'fleet') })?.status).toBe('True');
  }, 60_000);

  it('--no-image-automation: no image informers, no Lease taken, nothing scanned', async () => {
    expect(await (herald as HeraldProcess).stop('SIGTERM', 20_000)).toBe(0);
    await herald?.cleanup();
    expect(holder()).toBe('');
    const scans = registry.requests.length;
    const imageLists = api.listCount(/^\/apis\/image\.toolkit\.fluxcd\.io\//);
    const off = await start(['--no-image-automation']);
    await eventually(() => readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Provider', NS, 'sink')), 10_000, 'Herald running');
    await sleep(2_500);
    expect(holder()).toBe('');
    expect(registry.requests.length).toBe(scans);
    expect(api.listCount(/^\/apis\/image\.toolkit\.fluxcd\.io\//)).toBe(imageLists);
    expect(off.output.some((l) => l.includes('image automation'))).toBe(false);
  }, 40_000);
});
