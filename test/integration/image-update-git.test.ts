/**
 * ImageUpdateAutomation runs against real git: bare repositories over file://, hooks that
 * record push options, concurrent automations on one branch, a push rejected because another
 * writer moved the branch, and authenticated smart HTTP through `git http-backend`.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyedLock } from '../../src/image/update/git.js';
import { parseGitRepository, parseImageUpdateAutomation } from '../../src/image/update/manifests.js';
import { runAutomation, type SecretLookup } from '../../src/image/update/automation.js';
import type { GitRepository, ImageUpdateAutomation, PolicyInput } from '../../src/image/update/types.js';
import { GIT_ENV, bareRepo, cloneOf, git, installHook, testTmp, type BareRepo } from '../support/git-repos.js';
import { startGitHttpServer } from '../support/git-http-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

const DEPLOY = `---
# podinfo, kept current by the automation
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: apps
spec:
  template:
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:5.0.0 # {"$imagepolicy": "flux-system:podinfo"}
`;
const OTHER = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: other
spec:
  template:
    spec:
      containers:
        - name: other
          image: ghcr.io/example/other:1.0.0 # {"$imagepolicy": "flux-system:other"}
`;

const policies: PolicyInput[] = [
  { namespace: 'flux-system', name: 'podinfo', latestRef: { name: 'ghcr.io/stefanprodan/podinfo', tag: '5.0.3' } },
  { namespace: 'flux-system', name: 'other', latestRef: { name: 'ghcr.io/example/other', tag: '1.1.0' } },
];

function automation(name: string, extra: Record<string, unknown> = {}, git: Record<string, unknown> = {}): ImageUpdateAutomation {
  const parsed = parseImageUpdateAutomation({
    apiVersion: 'image.toolkit.fluxcd.io/v1beta2',
    kind: 'ImageUpdateAutomation',
    metadata: { name, namespace: 'flux-system' },
    spec: {
      interval: '5m',
      sourceRef: { kind: 'GitRepository', name: 'repo' },
      git: {
        checkout: { ref: { branch: 'main' } },
        commit: { author: { name: 'Herald Bot', email: 'herald@example.com' }, messageTemplate: '{{ range .Changed.Changes }}{{ .OldValue }} -> {{ .NewValue }}\n{{ end }}' },
        push: { branch: 'main' },
        ...git,
      },
      update: { path: './', strategy: 'Setters' },
      ...extra,
    },
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.value;
}

function gitRepository(url: string, secretName?: string): GitRepository {
  const parsed = parseGitRepository({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'repo', namespace: 'flux-system' },
    spec: { url, interval: '1m', timeout: '20s', ref: { branch: 'main' }, ...(secretName ? { secretRef: { name: secretName } } : {}) },
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.value;
}

const noSecrets: SecretLookup = () => undefined;
const tmpRoot = testTmp('iua-sessions-');

describe('over file://', () => {
  it('pushes one commit with the rendered message and author, then finds nothing to do', async () => {
    const repo = bareRepo({ 'deploy.yaml': DEPLOY, 'README.md': 'hello\n' });
    const iua = automation('podinfo-update');
    const lock = new KeyedLock();
    const now = () => new Date('2026-12-01T10:00:00Z');
    const first = await runAutomation(iua, gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot, now });
    expect(first.result.kind).toBe('pushed');
    if (first.result.kind !== 'pushed') return;
    const clone = cloneOf(repo);
    expect(readFileSync(join(clone, 'deploy.yaml'), 'utf8')).toBe(DEPLOY.replace('podinfo:5.0.0', 'podinfo:5.0.3'));
    expect(git(clone, 'log', '-1', '--format=%H%n%an <%ae>%n%cn <%ce>%n%B')).toBe(
      `${first.result.commit}\nHerald Bot <herald@example.com>\nHerald Bot <herald@example.com>\nghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n\n`,
    );
    expect(first.ready).toEqual({ status: 'True', reason: 'Succeeded', message: 'repository up-to-date' });
    expect(first.status).toMatchObject({
      lastPushCommit: first.result.commit,
      lastPushTime: '2026-12-01T10:00:00.000Z',
      lastAutomationRunTime: '2026-12-01T10:00:00.000Z',
      observedSourceRevision: `main@sha1:${first.result.commit}`,
      observedPolicies: { podinfo: { name: 'ghcr.io/stefanprodan/podinfo', tag: '5.0.3' }, other: { name: 'ghcr.io/example/other', tag: '1.1.0' } },
    });
    expect(first.explain.markers).toEqual([
      expect.objectContaining({ file: 'deploy.yaml', line: 13, marker: 'flux-system:podinfo', outcome: 'updated' }),
    ]);
    expect(first.events).toEqual([
      {
        involvedObject: { kind: 'ImageUpdateAutomation', namespace: 'flux-system', name: 'podinfo-update', apiVersion: 'image.toolkit.fluxcd.io/v1' },
        severity: 'info',
        timestamp: '2026-12-01T10:00:00.000Z',
        reason: 'Succeeded',
        message: `pushed commit '${first.result.commit.slice(0, 7)}' to branch 'main'\nghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n`,
        reportingController: 'image-automation-controller',
      },
    ]);

    // Same policies, branch not moved: skipped after an ls-remote, no commit, no event.
    const again = await runAutomation({ ...iua, status: first.status }, gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot, previouslyReady: true });
    expect(again.result).toEqual({ kind: 'unchanged', skipped: true });
    expect(again.events).toEqual([]);
    // Without the status (e.g. a restart): a full run that changes nothing.
    const fresh = await runAutomation(iua, gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot, previouslyReady: true });
    expect(fresh.result).toEqual({ kind: 'unchanged', skipped: false });
    expect(git(repo.dir, 'rev-list', '--count', 'main').trim()).toBe('2');
  });

  it('sends push options to the hook and pushes the refspec after the branch', async () => {
    const repo = bareRepo({ 'deploy.yaml': DEPLOY });
    git(repo.dir, 'config', 'receive.advertisePushOptions', 'true');
    const record = join(dirname(repo.dir), 'push-options.txt');
    installHook(repo, 'pre-receive', `#!/bin/sh
while read old new ref; do echo "ref $ref" >> '${record}'; done
i=0
while [ $i -lt "\${GIT_PUSH_OPTION_COUNT:-0}" ]; do eval "echo \\"option \\$GIT_PUSH_OPTION_$i\\"" >> '${record}'; i=$((i+1)); done
`);
    const iua = automation('with-options', {}, { push: { branch: 'main', refspec: 'refs/heads/main:refs/heads/release', options: { 'merge_request.create': '', 'merge_request.target': 'release' } } });
    const out = await runAutomation(iua, gitRepository(repo.url), noSecrets, policies, { lock: new KeyedLock(), tmpRoot });
    expect(out.result).toMatchObject({ kind: 'pushed', refspecs: ['refs/heads/main:refs/heads/release'] });
    expect(readFileSync(record, 'utf8')).toBe(
      'ref refs/heads/main\noption merge_request.create\noption merge_request.target=release\n' +
        'ref refs/heads/release\noption merge_request.create\noption merge_request.target=release\n',
    );
    expect(git(repo.dir, 'rev-parse', 'main')).toBe(git(repo.dir, 'rev-parse', 'release'));
    expect(out.events[0]?.message).toMatch(/^pushed commit '[0-9a-f]{7}' to branch 'main' and refspecs 'refs\/heads\/main:refs\/heads\/release'\n/);
  });

  it('pushes to another branch, created from the checkout branch', async () => {
    const repo = bareRepo({ 'deploy.yaml': DEPLOY });
    const out = await runAutomation(automation('to-auto', {}, { push: { branch: 'auto' } }), gitRepository(repo.url), noSecrets, policies, { lock: new KeyedLock(), tmpRoot });
    expect(out.result).toMatchObject({ kind: 'pushed', branch: 'auto' });
    expect(readFileSync(join(cloneOf(repo, 'auto'), 'deploy.yaml'), 'utf8')).toContain('podinfo:5.0.3');
    expect(readFileSync(join(cloneOf(repo, 'main'), 'deploy.yaml'), 'utf8')).toContain('podinfo:5.0.0');
  });

  it('two automations pushing to one branch at once: both changes land, no error', async () => {
    const repo = bareRepo({ 'deploy.yaml': DEPLOY, 'other/other.yaml': OTHER });
    const lock = new KeyedLock();
    const a = automation('only-podinfo', { update: { path: './', strategy: 'Setters' }, policySelector: { matchLabels: { app: 'podinfo' } } });
    const b = automation('only-other', { policySelector: { matchLabels: { app: 'other' } } });
    const labelled: PolicyInput[] = [
      { ...policies[0], labels: { app: 'podinfo' } } as PolicyInput,
      { ...policies[1], labels: { app: 'other' } } as PolicyInput,
    ];
    const [ra, rb] = await Promise.all([
      runAutomation(a, gitRepository(repo.url), noSecrets, labelled, { lock, tmpRoot }),
      runAutomation(b, gitRepository(repo.url), noSecrets, labelled, { lock, tmpRoot }),
    ]);
    expect([ra.result.kind, rb.result.kind]).toEqual(['pushed', 'pushed']);
    // Serialised by the lock, neither saw a rejection.
    expect([ra.result, rb.result].map((r) => (r.kind === 'pushed' ? r.attempts : 0))).toEqual([1, 1]);
    const clone = cloneOf(repo);
    expect(readFileSync(join(clone, 'deploy.yaml'), 'utf8')).toContain('podinfo:5.0.3');
    expect(readFileSync(join(clone, 'other/other.yaml'), 'utf8')).toContain('other:1.1.0');
    expect(git(clone, 'rev-list', '--count', 'HEAD').trim()).toBe('3');
    expect(lock.size).toBe(0);
  });

  it('a push rejected because another writer moved the branch is re-applied on the new tip', async () => {
    const repo = bareRepo({ 'deploy.yaml': DEPLOY, 'other/other.yaml': OTHER });
    // Another writer's commit, ready to push the moment our first push starts.
    const writer = cloneOf(repo);
    writeFileSync(join(writer, 'NOTES.md'), 'someone else was here\n');
    git(writer, 'add', '--all');
    git(writer, 'commit', '--quiet', '-m', 'another writer');
    // A `git` first on PATH that lets the other writer push just before our first push.
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    const bin = testTmp('git-wrapper-');
    const flag = join(bin, 'raced');
    writeFileSync(join(bin, 'git'), `#!/bin/sh
if [ "$1" = push ] && [ ! -e '${flag}' ]; then
  touch '${flag}'
  env -u GIT_CONFIG_COUNT HOME='${bin}' GIT_CONFIG_NOSYSTEM=1 '${realGit}' -C '${writer}' push --quiet origin HEAD:refs/heads/main
fi
exec '${realGit}' "$@"
`);
    chmodSync(join(bin, 'git'), 0o755);
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
    let out;
    try {
      out = await runAutomation(automation('racer'), gitRepository(repo.url), noSecrets, policies, { lock: new KeyedLock(), tmpRoot });
    } finally {
      process.env.PATH = savedPath;
    }
    expect(out.result).toMatchObject({ kind: 'pushed', attempts: 2 });
    const clone = cloneOf(repo);
    expect(readFileSync(join(clone, 'NOTES.md'), 'utf8')).toBe('someone else was here\n');
    expect(readFileSync(join(clone, 'deploy.yaml'), 'utf8')).toContain('podinfo:5.0.3');
    // git's %s joins the first paragraph's lines: both changes, then the other writer's commit, then the seed.
    expect(git(clone, 'log', '--format=%s').trim().split('\n')).toEqual([
      'ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3 ghcr.io/example/other:1.0.0 -> ghcr.io/example/other:1.1.0',
      'another writer',
      'seed',
    ]);
  });

  it('failures: a missing branch, a missing GitRepository, a template that does not parse — nothing pushed', async () => {
    const repo = bareRepo({ 'deploy.yaml': DEPLOY });
    const lock = new KeyedLock();
    const missingBranch = await runAutomation(automation('x', {}, { checkout: { ref: { branch: 'nope' } }, push: { branch: 'nope' } }), gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot });
    expect(missingBranch.result).toMatchObject({ kind: 'failed', reason: 'GitOperationFailed' });
    expect(missingBranch.ready?.message).toMatch(/^failed to checkout source: unable to clone 'file:\/\/.*': git fetch failed/);
    expect(missingBranch.events[0]).toMatchObject({ severity: 'error', reason: 'GitOperationFailed' });

    const noRepo = await runAutomation(automation('x'), undefined, noSecrets, policies, { lock, tmpRoot });
    expect(noRepo.ready).toEqual({ status: 'False', reason: 'SourceManagerFailed', message: 'failed configuring source manager: spec.sourceRef: GitRepository flux-system/repo not found' });

    const badTemplate = await runAutomation(automation('x', {}, { commit: { author: { email: 'a@b.c' }, messageTemplate: '{{ range .Changed.Changes }' } }), gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot });
    expect(badTemplate.ready?.reason).toBe('GitOperationFailed');
    expect(badTemplate.ready?.message).toMatch(/^unable to create commit message template from spec: template: commit message:1: /);

    const removed = await runAutomation(automation('x', {}, { commit: { author: { email: 'a@b.c' }, messageTemplate: '{{ .Updated }}' } }), gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot });
    expect(removed.result).toMatchObject({ kind: 'failed', reason: 'RemovedTemplateField', stalled: true });
    expect(git(repo.dir, 'rev-list', '--count', 'main').trim()).toBe('1');
  });
});

describe('checkout refs', () => {
  it('a tag, a commit and a semver range (through the injected selector) are checked out', async () => {
    const repo = bareRepo({ 'deploy.yaml': DEPLOY });
    const seed = git(repo.dir, 'rev-parse', 'main').trim();
    git(repo.dir, 'tag', 'v1.0.0', seed);
    git(repo.dir, 'tag', 'v1.2.0', seed);
    const lock = new KeyedLock();
    const push = { push: { branch: 'from-ref' } };
    const byTag = await runAutomation(automation('t', {}, { checkout: { ref: { tag: 'v1.0.0' } }, ...push }), gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot });
    expect(byTag.result).toMatchObject({ kind: 'pushed', branch: 'from-ref' });
    const byCommit = await runAutomation(automation('c', {}, { checkout: { ref: { commit: seed } }, push: { branch: 'from-commit' } }), gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot });
    expect(byCommit.result).toMatchObject({ kind: 'pushed', branch: 'from-commit' });
    expect(git(repo.dir, 'rev-parse', 'from-commit^').trim()).toBe(seed);
    const seen: string[][] = [];
    const selectSemver = (range: string, tags: readonly string[]) => {
      seen.push([range, ...[...tags].sort()]);
      return 'v1.2.0';
    };
    const bySemver = await runAutomation(automation('s', {}, { checkout: { ref: { semver: '>=1.0.0' } }, push: { branch: 'from-semver' } }), gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot, selectSemver });
    expect(bySemver.result).toMatchObject({ kind: 'pushed', branch: 'from-semver' });
    expect(seen).toEqual([['>=1.0.0', 'v1.0.0', 'v1.2.0']]);
    const noSelector = await runAutomation(automation('s', {}, { checkout: { ref: { semver: '>=1.0.0' } }, push: { branch: 'x' } }), gitRepository(repo.url), noSecrets, policies, { lock, tmpRoot });
    expect(noSelector.ready?.message).toMatch(/checkout by semver needs a semver selector/);
  });
});

describe('over ssh:// (a stand-in ssh that runs the remote command locally)', () => {
  it('uses the key from the Secret (a 0600 file) and the known_hosts, never the key in argv', async () => {
    const repo = bareRepo({ 'deploy.yaml': DEPLOY });
    const bin = testTmp('fake-ssh-');
    const record = join(bin, 'calls.txt');
    // ssh's last argument is the remote command (git-upload-pack '/path'); run it here instead.
    writeFileSync(join(bin, 'ssh'), `#!/bin/sh
echo "argv: $*" >> '${record}'
prev=""
for a in "$@"; do
  if [ "$prev" = "-i" ]; then echo "key-mode: $(stat -c %a "$(eval echo $a)")" >> '${record}'; echo "key: $(head -c 20 "$(eval echo $a)")" >> '${record}'; fi
  case "$a" in UserKnownHostsFile=*) echo "known_hosts: $(cat "$(eval echo \${a#UserKnownHostsFile=})")" >> '${record}';; esac
  prev="$a"
done
for last in "$@"; do :; done
exec sh -c "$last"
`);
    chmodSync(join(bin, 'ssh'), 0o755);
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
    let out;
    try {
      out = await runAutomation(automation('over-ssh'), gitRepository(`ssh://git@git.example.invalid${repo.dir}`, 'ssh-auth'), () => ({
        identity: '-----BEGIN OPENSSH PRIVATE KEY-----\nssh-Secret-Key-Body\n-----END OPENSSH PRIVATE KEY-----',
        known_hosts: 'git.example.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey',
      }), policies, { lock: new KeyedLock(), tmpRoot });
    } finally {
      process.env.PATH = savedPath;
    }
    expect(out.result.kind).toBe('pushed');
    const calls = readFileSync(record, 'utf8');
    expect(calls).toContain('key-mode: 600');
    expect(calls).toContain('key: -----BEGIN OPENSSH');
    expect(calls).toContain('known_hosts: git.example.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey');
    expect(calls).toMatch(/argv: .*-o StrictHostKeyChecking=yes .*-o IdentitiesOnly=yes -i /);
    expect(calls.split('\n').filter((l) => l.startsWith('argv:')).join('\n')).not.toContain('ssh-Secret-Key-Body');
    expect(readFileSync(join(cloneOf(repo), 'deploy.yaml'), 'utf8')).toContain('podinfo:5.0.3');
  });
});

describe('over authenticated HTTP (git http-backend)', () => {
  const token = 'tok-Secret-7f3a9c';
  const password = 'pw-Secret-91b2';

  async function server(auth: { username?: string; password?: string; bearerToken?: string }): Promise<{ repo: BareRepo; url: string; requests: Array<{ authorized: boolean }> }> {
    const repo = bareRepo({ 'deploy.yaml': DEPLOY });
    const s = await startGitHttpServer(dirname(repo.dir), auth);
    cleanups.push(() => s.close());
    return { repo, url: `${s.baseUrl}remote.git`, requests: s.requests };
  }

  it('Basic credentials from the Secret: cloned and pushed, and they appear nowhere', async () => {
    const { repo, url, requests } = await server({ username: 'herald', password });
    const secrets: SecretLookup = (ns, name) => (ns === 'flux-system' && name === 'git-auth' ? { username: 'herald', password } : undefined);
    const out = await runAutomation(automation('http-basic'), gitRepository(url, 'git-auth'), secrets, policies, { lock: new KeyedLock(), tmpRoot });
    expect(out.result.kind).toBe('pushed');
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((r) => r.authorized)).toBe(true);
    const everything = JSON.stringify(out) + git(repo.dir, 'log', '--all', '--format=%H %an %ae %B') + git(repo.dir, 'config', '--list');
    expect(everything).not.toContain(password);
    expect(everything).not.toContain(Buffer.from(`herald:${password}`).toString('base64'));
  });

  it('a bearer token: pushed; a wrong token fails with no token in the error, event or status', async () => {
    const { repo, url } = await server({ bearerToken: token });
    const good = await runAutomation(automation('http-token'), gitRepository(url, 'tok'), () => ({ bearerToken: token }), policies, { lock: new KeyedLock(), tmpRoot });
    expect(good.result.kind).toBe('pushed');
    const wrong = `${token}-wrong`;
    const bad = await runAutomation(automation('http-token'), gitRepository(url, 'tok'), () => ({ bearerToken: wrong }), policies, { lock: new KeyedLock(), tmpRoot });
    expect(bad.result).toMatchObject({ kind: 'failed', reason: 'GitOperationFailed' });
    expect(bad.ready?.message).toMatch(/^failed to checkout source: unable to clone 'http:\/\/127\.0\.0\.1:\d+\/remote\.git': /);
    const everything = JSON.stringify(good) + JSON.stringify(bad) + git(repo.dir, 'log', '--all', '--format=%H %an %ae %B');
    expect(everything).not.toContain(token);
  });

  it('a missing Secret names the field', async () => {
    const { url } = await server({ bearerToken: token });
    const out = await runAutomation(automation('http-missing'), gitRepository(url, 'absent'), noSecrets, policies, { lock: new KeyedLock(), tmpRoot });
    expect(out.ready).toEqual({
      status: 'False',
      reason: 'SourceManagerFailed',
      message: 'failed configuring source manager: GitRepository flux-system/repo spec.secretRef: Secret flux-system/absent not found',
    });
  });
});

describe('signing', () => {
  it('an OpenPGP key with a passphrase signs the commit; the passphrase appears nowhere', async () => {
    const home = testTmp('gpg-');
    chmodSync(home, 0o700);
    const gpg = (...args: string[]) => execFileSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', 'pgp-Secret-55', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(async () => {
      execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
    });
    gpg('--quick-gen-key', 'Herald Bot <herald@example.com>', 'ed25519', 'sign', 'never');
    const armored = gpg('--armor', '--export-secret-keys', 'herald@example.com');
    const repo = bareRepo({ 'deploy.yaml': DEPLOY });
    const iua = automation('gpg-signed', {}, { commit: { author: { name: 'Herald Bot', email: 'herald@example.com' }, signingKey: { secretRef: { name: 'pgp' } } } });
    const out = await runAutomation(iua, gitRepository(repo.url), (_ns, name) => (name === 'pgp' ? { 'git.asc': armored, passphrase: 'pgp-Secret-55' } : undefined), policies, { lock: new KeyedLock(), tmpRoot });
    expect(out.result.kind).toBe('pushed');
    const clone = cloneOf(repo);
    const verified = execFileSync('git', ['log', '-1', '--format=%G?'], { cwd: clone, env: { ...GIT_ENV, GNUPGHOME: home }, encoding: 'utf8' });
    expect(verified).toBe('G\n');
    expect(JSON.stringify(out)).not.toContain('pgp-Secret-55');

    const wrong = await runAutomation(iua, gitRepository(repo.url), () => ({ 'git.asc': armored, passphrase: 'pgp-Secret-wrong' }), [
      { namespace: 'flux-system', name: 'podinfo', latestRef: { name: 'ghcr.io/stefanprodan/podinfo', tag: '5.0.4' } },
    ], { lock: new KeyedLock(), tmpRoot });
    expect(wrong.result).toMatchObject({ kind: 'failed', reason: 'GitOperationFailed' });
    expect(JSON.stringify(wrong)).not.toContain('pgp-Secret-wrong');
    // gpg key generation and agent start-up take seconds on a loaded machine.
  }, 120_000);

  it('an SSH signing key signs the commit', async () => {
    const keyDir = testTmp('ssh-sign-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'herald', '-f', join(keyDir, 'id')]);
    const identity = readFileSync(join(keyDir, 'id'), 'utf8');
    const repo = bareRepo({ 'deploy.yaml': DEPLOY });
    const iua = automation('signed', {}, { commit: { author: { name: 'Herald Bot', email: 'herald@example.com' }, signingKey: { type: 'ssh', secretRef: { name: 'sign' } } } });
    const out = await runAutomation(iua, gitRepository(repo.url), (_ns, name) => (name === 'sign' ? { identity } : undefined), policies, { lock: new KeyedLock(), tmpRoot });
    expect(out.result.kind).toBe('pushed');
    const clone = cloneOf(repo);
    const allowed = join(keyDir, 'allowed');
    writeFileSync(allowed, `herald@example.com ${readFileSync(join(keyDir, 'id.pub'), 'utf8')}`);
    mkdirSync(join(keyDir, 'x'), { recursive: true });
    expect(git(clone, '-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${allowed}`, 'log', '-1', '--format=%G?')).toBe('G\n');
    expect(JSON.stringify(out)).not.toContain('PRIVATE KEY');
  });
});
