/**
 * Image automation end to end: Herald as a process over a manifests directory, a real
 * registry (Debian's docker-registry on loopback) with tags pushed over HTTP, a bare Git
 * repository whose YAML carries a `$imagepolicy` marker. Herald scans, selects, commits and
 * pushes; its events reach a sink through an ordinary Alert.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHerald, type HeraldProcess } from '../support/herald.js';
import { dockerRegistryPath, startDockerRegistry, type DockerRegistry } from '../support/docker-registry.js';
import { bareRepo, cloneOf, git, type BareRepo } from '../support/git-repos.js';
import { startSink, type Sink } from '../support/sink.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { sleep, until, untilPasses } from '../support/wait.js';

const running: Array<{ stop(): Promise<unknown> }> = [];

afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

if (!dockerRegistryPath) console.log('image automation e2e skipped: docker-registry is not installed (apt-get install docker-registry)');

function deployment(image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app # the app
spec:
  template:
    spec:
      containers:
        - name: app
          image: '${image}' # {"$imagepolicy": "flux-system:app"}
        - name: sidecar
          image: ${image} # {"$imagepolicy": "other-namespace:app"}
`;
}

function manifests(registry: DockerRegistry, repo: BareRepo, sink: Sink, opts: { scanInterval: string }): Record<string, string> {
  return {
    'alerting.yaml': `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: { name: sink, namespace: flux-system }
spec:
  type: generic
  address: ${sink.url}/hook
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: { name: images, namespace: flux-system }
spec:
  providerRef: { name: sink }
  eventSources:
    - { kind: ImageRepository, name: '*' }
    - { kind: ImagePolicy, name: '*' }
    - { kind: ImageUpdateAutomation, name: '*' }
`,
    'images.yaml': `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: { name: app, namespace: flux-system }
spec:
  image: ${registry.host}/team/app
  interval: ${opts.scanInterval}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: { name: app, namespace: flux-system }
spec:
  imageRepositoryRef: { name: app }
  policy:
    semver: { range: '>=1.0.0' }
`,
    'automation.yaml': `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: { name: fleet, namespace: flux-system }
spec:
  url: ${repo.url}
  interval: 1m
  ref: { branch: main }
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: { name: fleet, namespace: flux-system }
spec:
  interval: 1h
  sourceRef: { kind: GitRepository, name: fleet }
  git:
    commit:
      author: { name: Herald Bot, email: herald@example.com }
      messageTemplate: |-
        Update images{{ range .Changed.Changes }}
        - {{ .OldValue }} -> {{ .NewValue }}{{ end }}
    push: { branch: main }
  update: { path: ./deploy, strategy: Setters }
`,
  };
}

interface ReceivedEvent {
  involvedObject: { kind: string; name: string; namespace: string };
  reason: string;
  message: string;
  severity: string;
}

const received = (sink: Sink): ReceivedEvent[] =>
  sink.requests.filter((r) => r.url === '/hook').map((r) => JSON.parse(r.body) as ReceivedEvent);

describe.skipIf(!dockerRegistryPath)('image automation from the manifests directory', () => {
  it('scans the registry, selects the newest tag, pushes the edit to the bare repository and announces it through an Alert; a new tag goes the same way', async () => {
    const registry = await startDockerRegistry();
    running.push(registry);
    await registry.push('team/app', '1.0.0');
    await registry.push('team/app', '1.1.0');
    await registry.push('team/app', 'latest');
    const image = `${registry.host}/team/app`;
    const repo = bareRepo({ 'deploy/app.yaml': deployment(`${image}:1.0.0`), 'README.md': 'fleet\n' });
    const sink = await startSink();
    running.push({ stop: () => sink.close() });
    const h: HeraldProcess = await startHerald({ manifests: manifests(registry, repo, sink, { scanInterval: '2s' }) });
    running.push({ stop: async () => (await h.stop(), await h.cleanup()) });

    const pushedCommit = () => {
      const clone = cloneOf(repo);
      return { clone, subject: git(clone, 'log', '-1', '--format=%an <%ae>%n%B').trim() };
    };
    await untilPasses(() => expect(pushedCommit().subject).toContain('Update images'), { timeoutMs: 30_000, what: 'a commit pushed' });
    const { clone, subject } = pushedCommit();
    expect(subject).toBe(`Herald Bot <herald@example.com>\nUpdate images\n- ${image}:1.0.0 -> ${image}:1.1.0`);
    // Only the marked value changed, and it kept its quotes; the marker in another namespace is ignored.
    const diff = git(clone, 'diff', 'HEAD~1', 'HEAD', '--unified=0', '--no-color').split('\n').filter((l) => /^[-+] /.test(l));
    expect(diff).toEqual([
      `-          image: '${image}:1.0.0' # {"$imagepolicy": "flux-system:app"}`,
      `+          image: '${image}:1.1.0' # {"$imagepolicy": "flux-system:app"}`,
    ]);

    // Events, through the Alert, as Flux's controllers would have POSTed them.
    await untilPasses(() => {
      const events = received(sink);
      expect(events.find((e) => e.involvedObject.kind === 'ImageRepository')?.message).toMatch(/^successful scan: found 3 tags/);
      expect(events.find((e) => e.involvedObject.kind === 'ImagePolicy')?.message).toBe(`Latest image tag for ${image} resolved to 1.1.0`);
      const automation = events.find((e) => e.involvedObject.kind === 'ImageUpdateAutomation');
      expect(automation).toMatchObject({ reason: 'Succeeded', severity: 'info', involvedObject: { name: 'fleet', namespace: 'flux-system' } });
      const short = git(clone, 'rev-parse', '--short=7', 'HEAD').trim();
      expect(automation?.message).toBe(`pushed commit '${short}' to branch 'main'\nUpdate images\n- ${image}:1.0.0 -> ${image}:1.1.0`);
      // The policy waited for the first scan: no "no tags in database" error on the way.
      expect(events.filter((e) => e.severity === 'error')).toEqual([]);
    }, { timeoutMs: 15_000, what: 'events at the sink' });

    // Status and the explain report on the health port.
    const resources = (await (await fetch(`${h.healthUrl}/resources`)).json()) as { resources: Array<Record<string, any>> };
    const byKind = (kind: string) => resources.resources.find((r) => r.kind === kind);
    expect(byKind('ImageRepository')).toMatchObject({ name: 'app', ready: { status: 'True' }, status: { lastScanResult: { tagCount: 3 } } });
    expect(byKind('ImagePolicy')).toMatchObject({ ready: { status: 'True' }, status: { latestRef: { name: image, tag: '1.1.0' } } });
    const automation = byKind('ImageUpdateAutomation');
    expect(automation).toMatchObject({ ready: { status: 'True' }, status: { lastPushCommit: git(clone, 'rev-parse', 'HEAD').trim() } });
    expect(automation?.explain.markers).toEqual([
      expect.objectContaining({ file: 'deploy/app.yaml', marker: 'flux-system:app', outcome: 'updated', newValue: `${image}:1.1.0` }),
      expect.objectContaining({ file: 'deploy/app.yaml', marker: 'other-namespace:app', outcome: 'ignored' }),
    ]);

    // A new tag: the next scan changes the revision, the policy moves, the automation pushes again.
    await registry.push('team/app', '1.2.0');
    await untilPasses(() => expect(pushedCommit().subject).toContain(`${image}:1.1.0 -> ${image}:1.2.0`), { timeoutMs: 30_000, what: 'a second commit' });
    expect(git(cloneOf(repo), 'rev-list', '--count', 'HEAD').trim()).toBe('3');
    await until(() => received(sink).some((e) => e.involvedObject.kind === 'ImagePolicy' && e.message.includes('resolved to 1.2.0 (previously')), {
      timeoutMs: 15_000,
      what: 'the policy event for 1.2.0',
    });

    // SIGTERM stops everything, image automation included, with a clean exit.
    expect(await h.stop('SIGTERM', 20_000)).toBe(0);
  }, 120_000);

  it('with Redis, a restart neither rescans at once nor announces the same tags again', async () => {
    const registry = await startDockerRegistry();
    running.push(registry);
    await registry.push('team/app', '1.1.0');
    const image = `${registry.host}/team/app`;
    const repo = bareRepo({ 'deploy/app.yaml': deployment(`${image}:1.0.0`) });
    const sink = await startSink();
    running.push({ stop: () => sink.close() });
    const prefix = uniquePrefix('image-e2e');
    running.push({ stop: () => deletePrefix(prefix) });
    const options = { manifests: manifests(registry, repo, sink, { scanInterval: '1h' }), redisUrl: REDIS_URL, extraArgs: ['--redis-prefix', prefix] };
    const first = await startHerald(options);
    running.push({ stop: async () => (await first.stop(), await first.cleanup()) });
    await until(() => received(sink).some((e) => e.involvedObject.kind === 'ImageUpdateAutomation'), { timeoutMs: 30_000, what: 'the first push' });
    expect(await first.stop('SIGTERM', 20_000)).toBe(0);
    const before = received(sink).length;

    // The registry gets a new tag meanwhile: a rescan at restart would find it.
    await registry.push('team/app', '1.2.0');
    const second = await startHerald({ ...options, configDir: first.configDir });
    running.push({ stop: () => second.stop() });
    await untilPasses(async () => {
      const resources = (await (await fetch(`${second.healthUrl}/resources`)).json()) as { resources: Array<Record<string, any>> };
      expect(resources.resources.find((r) => r.kind === 'ImagePolicy')).toMatchObject({ ready: { status: 'True' }, status: { latestRef: { tag: '1.1.0' } } });
      expect(resources.resources.find((r) => r.kind === 'ImageUpdateAutomation')?.ready.status).toBe('True');
    }, { timeoutMs: 15_000, what: 'statuses restored' }).catch((err: unknown) => {
      console.log(second.output.filter((l) => !l.includes('Server listening')).join('\n'));
      throw err;
    });
    await sleep(1000);
    // Only the automation speaks again ("repository up-to-date": its Ready state is not kept across restarts).
    expect(received(sink).slice(before).map((e) => `${e.involvedObject.kind}: ${e.message}`)).toEqual(['ImageUpdateAutomation: repository up-to-date']);
    expect(git(cloneOf(repo), 'rev-list', '--count', 'HEAD').trim()).toBe('2');
  }, 90_000);

  it('does not run image automation with --no-image-automation', async () => {
    const registry = await startDockerRegistry();
    running.push(registry);
    await registry.push('team/app', '1.1.0');
    const repo = bareRepo({ 'deploy/app.yaml': deployment(`${registry.host}/team/app:1.0.0`) });
    const sink = await startSink();
    running.push({ stop: () => sink.close() });
    const h = await startHerald({ manifests: manifests(registry, repo, sink, { scanInterval: '1m' }), extraArgs: ['--no-image-automation'] });
    running.push({ stop: async () => (await h.stop(), await h.cleanup()) });
    const resources = (await (await fetch(`${h.healthUrl}/resources`)).json()) as { resources: Array<{ kind: string }> };
    expect(resources.resources.map((r) => r.kind).sort()).toEqual(['Alert', 'Provider']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(git(cloneOf(repo), 'rev-list', '--count', 'HEAD').trim()).toBe('1');
    expect(received(sink)).toEqual([]);
  }, 60_000);
});
