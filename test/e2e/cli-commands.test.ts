/**
 * The `herald` commands as an operator runs them: the built CLI (`node dist/src/main.js …`) on
 * manifests directories, and against a running Herald's admin API in both queue modes, with a
 * real sink receiving what is delivered.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { freePort, heraldMain, startHerald, type HeraldProcess, type StartOptions } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startSink, type Sink } from '../support/sink.js';
import { makeTempDir } from '../support/tmp.js';
import { until } from '../support/wait.js';
import { kustomizationAlert, secret, webhookProvider } from './manifests.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to its end (asynchronously: the sink in this process must keep answering). */
function herald(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [heraldMain, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function manifestsDir(files: Record<string, string>): Promise<string> {
  const dir = await makeTempDir('herald-cli-manifests-');
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

const BAD_MANIFESTS = {
  'providers.yaml': `${webhookProvider({ name: 'hook', address: 'not a url' })}---
${webhookProvider({ name: 'good', address: 'http://127.0.0.1:9/hook', extra: '  adress: typo\n' })}`,
  'alerts.yaml': `${kustomizationAlert({
    name: 'errors',
    provider: 'good',
    extra: '  exclusionlist:\n    - Progressing\n  inclusionList:\n    - ReconciliationFailed\n',
  }).replace('  namespace: flux-system\n', '  namespace: flux-system\n  annotations:\n    events.toolkit.fluxcd.io/env: prod\n')}---
${kustomizationAlert({ name: 'orphan', provider: 'nowhere' })}`,
  'broken.yaml': 'kind: [\n',
  'receivers.yaml': `apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: github
  namespace: flux-system
spec:
  type: github
  secretRef:
    name: webhook-token
  resources:
    - kind: GitRepository
      name: app
  evnets: [push]
---
${secret('webhook-token', { token: 'receiver-token-for-validate' })}`,
};

describe('herald validate (offline)', () => {
  it('a good directory: no findings, exit 0', async () => {
    const dir = await manifestsDir({ 'p.yaml': webhookProvider({ address: 'http://127.0.0.1:9/x' }), 'a.yaml': kustomizationAlert() });
    expect(await herald(['validate', dir])).toEqual({ code: 0, stdout: '0 errors, 0 warnings in 2 files (2 objects)\n', stderr: '' });
  });

  it('a bad directory: every problem and warning on its own line, with file and document; exit 1', async () => {
    const dir = await manifestsDir(BAD_MANIFESTS);
    const run = await herald(['validate', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    expect(run.stdout.split('\n')).toEqual([
      'alerts.yaml#1: warning: Alert flux-system/errors: unknown field spec.exclusionlist is ignored (did you mean spec.exclusionList?)',
      'alerts.yaml#1: warning: Alert flux-system/errors: spec.inclusionList[0] "ReconciliationFailed" mentions ReconciliationFailed, which looks like an event reason; Flux matches these patterns against the event\'s message (e.g. "Reconciliation finished in 1.2s"), never its reason',
      'alerts.yaml#1: warning: Alert flux-system/errors: annotation "events.toolkit.fluxcd.io/env" never reaches a notification: Flux sends only annotations under event.toolkit.fluxcd.io/ as event metadata, and its clean-up drops other keys',
      "alerts.yaml#2: warning: Alert flux-system/orphan: Provider 'flux-system/nowhere' named by spec.providerRef was not found",
      'broken.yaml#1: error: invalid YAML at line 2, column 1: BAD_INDENT',
      'providers.yaml#1: error: Provider flux-system/hook: spec.address is not a valid http(s) URL (InvalidAddress)',
      'providers.yaml#2: warning: Provider flux-system/good: unknown field spec.adress is ignored',
      'receivers.yaml#1: warning: Receiver flux-system/github: unknown field spec.evnets is ignored',
      '2 errors, 6 warnings in 4 files (6 objects)',
      '',
    ]);
  });

  it('--output json: the same findings with their fields', async () => {
    const dir = await manifestsDir(BAD_MANIFESTS);
    const run = await herald(['validate', dir, '--output', 'json']);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { ok: boolean; errors: unknown[]; warnings: unknown[] };
    expect(report.ok).toBe(false);
    expect(report.errors).toContainEqual({
      severity: 'error',
      file: 'providers.yaml',
      document: 1,
      kind: 'Provider',
      namespace: 'flux-system',
      name: 'hook',
      field: 'spec.address',
      reason: 'InvalidAddress',
      message: 'spec.address is not a valid http(s) URL',
    });
    expect(report.warnings).toHaveLength(6);
    expect(run.stdout).not.toContain('receiver-token-for-validate');
  });

  it('usage errors: one line, a usage hint, exit 2', { timeout: 120_000 }, async () => {
    const missing = await herald(['validate']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("herald validate: missing required argument 'dir'\nUsage: herald validate [options] <dir>; run herald validate --help for more.\n");
    const nowhere = await herald(['validate', '/nonexistent/herald-validate']);
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr.split('\n')[0]).toBe('herald validate: manifests directory /nonexistent/herald-validate does not exist');
    const format = await herald(['validate', '.', '-o', 'yaml']);
    expect(format.code).toBe(2);
    expect(format.stderr).toMatch(/^herald validate: option '-o, --output <format>' argument 'yaml' is invalid/);
  });

  it('--help on every command, with value placeholders; herald --help lists serve\'s flags and the commands', { timeout: 180_000 }, async () => {
    for (const command of [['validate'], ['explain'], ['test'], ['get'], ['describe'], ['deliveries', 'list'], ['deliveries', 'purge']]) {
      const run = await herald([...command, '--help']);
      expect(run.code, command.join(' ')).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^Usage: herald ${command.join(' ')} `));
    }
    const top = await herald(['--help']);
    expect(top.stdout).toMatch(/--config-dir DIR /);
    expect(top.stdout).toMatch(/^ {2}deliveries replay \[options\] \[id\] /m);
    expect((await herald(['explain', '--help'])).stdout).toMatch(/--server <url>/);
  });
});

describe('herald explain (offline)', () => {
  it('says why each Alert matches or not, and what the Provider would receive', { timeout: 120_000 }, async () => {
    const dir = await manifestsDir({
      'p.yaml': webhookProvider({ address: 'http://127.0.0.1:9/x' }),
      'a.yaml': kustomizationAlert({ extra: '  eventMetadata:\n    env: prod\n' }),
      'e.yaml': kustomizationAlert({ name: 'errors-only', extra: '  eventSeverity: error\n' }),
    });
    const eventFile = join(dir, 'event.json');
    await writeFile(eventFile, JSON.stringify(kustomizationEvent({ metadata: { 'kustomize.toolkit.fluxcd.io/revision': 'main@sha1:1', stray: 'x' } })));
    const run = await herald(['explain', '--event', eventFile, dir]);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'note: metadata key "stray" is removed by Flux\'s clean-up on arrival (kept: event.toolkit.fluxcd.io/* and the object\'s API group)',
      'flux-system/all-kustomizations: matched',
      '  - spec.eventSources[0] Kustomization/flux-system/* matches Kustomization/flux-system/apps',
      '  - severity info is taken (spec.eventSeverity info takes every severity)',
      '  - no spec.inclusionList: every message is included',
    ]);
    expect(lines[5]).toBe('  => Provider flux-system/sink (generic) would receive:');
    expect(run.stdout).toContain('"env": "prod"');
    expect(run.stdout).toContain('flux-system/errors-only: not matched\n  - spec.eventSources[0] Kustomization/flux-system/* matches Kustomization/flux-system/apps\n  - severity info is not taken: spec.eventSeverity is error, which takes only error events\n');
    expect(lines.at(-2)).toBe('1 of 2 Alerts matched; 1 notification would be sent');

    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ involvedObject: { kind: 'Kustomization' }, severity: 'loud', message: 'x' }));
    const refused = await herald(['explain', '--event', bad, dir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.split('\n')[0]).toBe(`herald explain: --event: ${bad} is not a Flux event: involvedObject.name must be a non-empty string; severity must be info, error or trace`);
  });

  it('an unreachable server is said in plain words (exit 1)', async () => {
    const dir = await makeTempDir('herald-cli-event-');
    const eventFile = join(dir, 'event.json');
    await writeFile(eventFile, JSON.stringify(kustomizationEvent()));
    const port = await freePort();
    const run = await herald(['explain', '--event', eventFile, '--server', `http://127.0.0.1:${port}`]);
    expect(run).toEqual({ code: 1, stdout: '', stderr: `herald explain: cannot reach Herald's admin API at http://127.0.0.1:${port}: connection refused\n` });
  });
});

const modes: Array<[string, () => Partial<StartOptions>]> = [
  ['in-process queue', () => ({})],
  [
    'Redis queue',
    () => {
      const prefix = uniquePrefix('cli');
      cleanups.push(() => deletePrefix(prefix));
      return { redisUrl: REDIS_URL, extraArgs: ['--redis-prefix', prefix] };
    },
  ],
];

interface Listed {
  deliveries: Array<{ id: string; state: string; data: { provider: string } }>;
}

/** Dead letters, asked of the admin API directly: polling through the CLI would start a process each time. */
async function deadLetters(server: HeraldProcess, token: string): Promise<number> {
  const res = await fetch(`${server.adminUrl}/deliveries?state=failed`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as Listed).deliveries.length;
}

describe.each(modes)('herald commands against a running Herald (%s)', (_name, mode) => {
  async function setup(flags = ['--max-attempts', '1']): Promise<{ sink: Sink; server: HeraldProcess; token: string; tokenFile: string }> {
    const sink = await startSink(() => ({ status: 400, body: 'rejected' }));
    cleanups.push(() => sink.close());
    const token = 'cli-admin-token-7c1d';
    const options = mode();
    const server = await startHerald({
      ...options,
      manifests: {
        'p.yaml': webhookProvider({ address: `${sink.url}/a`, type: 'generic-hmac', secretName: 'hmac' }),
        's.yaml': secret('hmac', { token: 'hmac-key-for-cli-test' }),
        'a.yaml': kustomizationAlert(),
      },
      extraArgs: [...(options.extraArgs ?? []), ...flags],
      env: { HERALD_ADMIN_TOKEN: token },
    });
    cleanups.push(async () => (await server.stop(), await server.cleanup()));
    const dir = await makeTempDir('herald-cli-token-');
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${token}\n`);
    return { sink, server, token, tokenFile };
  }

  it('explain via the server; deliveries list, show, replay of a dead letter (delivered at the sink), purge', { timeout: 300_000 }, async () => {
    const { sink, server, token, tokenFile } = await setup();
    const common = ['--server', server.adminUrl, '--token-file', tokenFile];

    const eventFile = join(server.configDir, '..', `event-${server.pid}.json`);
    await writeFile(eventFile, JSON.stringify(kustomizationEvent()));
    const explained = await herald(['explain', '--event', eventFile, ...common, '-o', 'json']);
    expect(explained.code).toBe(0);
    const result = JSON.parse(explained.stdout) as { alerts: Array<{ alert: string; matched: boolean; provider: string; providerType: string }> };
    expect(result.alerts).toMatchObject([{ alert: 'flux-system/all-kustomizations', matched: true, provider: 'flux-system/sink', providerType: 'generic-hmac' }]);
    const badEvent = await fetch(`${server.adminUrl}/explain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: { ...kustomizationEvent(), severity: 'loud' } }),
    });
    expect(badEvent.status).toBe(400);
    expect(((await badEvent.json()) as { message: string }).message).toMatch(/event\/severity/);
    const withoutToken = await herald(['explain', '--event', eventFile, '--server', server.adminUrl]);
    expect(withoutToken.code).toBe(1);
    expect(withoutToken.stderr).toMatch(/wants a valid token \(401\)/);

    expect((await server.postEvent(kustomizationEvent({ message: 'first' }))).status).toBe(202);
    await until(async () => (await deadLetters(server, token)) === 1, { timeoutMs: 20_000, what: 'a dead letter' });
    const listed = await herald(['deliveries', 'list', '--state', 'failed', ...common, '-o', 'json']);
    const dead = (JSON.parse(listed.stdout) as Listed).deliveries[0];

    const table = await herald(['deliveries', 'list', ...common], { HERALD_ADMIN_TOKEN: token });
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID +STATE +PROVIDER +ALERT +OBJECT +ATTEMPTS +NEXT ATTEMPT +LAST ERROR$/);
    expect(table.stdout).toContain(`${dead!.id}`);
    expect(table.stdout).toMatch(/failed +flux-system\/sink +flux-system\/all-kustomizations +Kustomization\/flux-system\/apps/);

    const shown = await herald(['deliveries', 'show', dead!.id, ...common]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^State: +failed$/m);
    expect(shown.stdout).toMatch(/^Last error: +.*provider answered 400: rejected/m);
    expect(shown.stdout).toContain('"message": "first"');

    sink.respondWith(() => ({ status: 200 }));
    const replayed = await herald(['deliveries', 'replay', dead!.id, ...common]);
    expect(replayed).toMatchObject({ code: 0, stdout: `replayed ${dead!.id}\n` });
    await until(() => sink.requests.filter((r) => r.body.includes('"first"')).length === 2, { timeoutMs: 20_000, what: 'the replayed delivery at the sink' });
    const again = await herald(['deliveries', 'replay', dead!.id, ...common]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^herald deliveries replay: delivery .* is (completed|active|waiting), not a dead letter\n$/);

    // The Provider's last delivery shows in `get`, like flux get's columns; `describe` shows all of it.
    await until(async () => {
      const res = await fetch(`${server.adminUrl}/resources`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { resources: Array<{ kind: string; lastDelivery?: { outcome: string } }> };
      return body.resources.some((r) => r.kind === 'Provider' && r.lastDelivery?.outcome === 'delivered');
    }, { what: 'the last delivery in /resources' });
    const providers = await herald(['get', 'providers', ...common]);
    expect(providers.code).toBe(0);
    const [header, row, ...rest] = providers.stdout.split('\n');
    expect(header).toMatch(/^NAMESPACE +NAME +READY +MESSAGE +SUSPENDED +LAST DELIVERY$/);
    expect(row).toMatch(/^flux-system +sink +True +Provider is ready +False +delivered \d+s ago \(flux-system\/all-kustomizations\)$/);
    expect(rest).toEqual(['']);
    const alerts = await herald(['get', 'alerts', '-A', ...common, '-o', 'json']);
    expect(JSON.parse(alerts.stdout)).toMatchObject([{ kind: 'Alert', namespace: 'flux-system', name: 'all-kustomizations', ready: { status: 'True' } }]);
    expect((await herald(['get', 'alerts', '-n', 'elsewhere', ...common])).stdout).toBe('no Alerts found\n');
    const described = await herald(['describe', 'provider', 'flux-system/sink', ...common]);
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/^Ready: +True$/m);
    expect(described.stdout).toMatch(/^Last delivery: delivered at .* for Alert flux-system\/all-kustomizations$/m);
    expect(await herald(['describe', 'alert', 'flux-system/none', ...common])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'herald describe: no Alert flux-system/none in Herald\'s resources\n',
    });

    // A test send goes to the sink through the real provider path; a refusal exits 1.
    const sent = sink.requests.length;
    const tested = await herald(['test', 'flux-system/sink', '--message', 'hello from the cli', ...common]);
    expect(tested.code).toBe(0);
    expect(tested.stdout).toMatch(/^ok: flux-system\/sink answered 200 in \d+ ms/);
    expect(sink.requests.slice(sent).some((r) => r.body.includes('hello from the cli'))).toBe(true);
    sink.respondWith(() => ({ status: 503, body: 'down for maintenance' }));
    const refusedTest = await herald(['test', 'flux-system/sink', ...common]);
    expect(refusedTest.code).toBe(1);
    expect(refusedTest.stdout).toMatch(/^failed: flux-system\/sink: .*503/);
    expect((await herald(['test', 'flux-system/nope', ...common])).stderr).toBe('herald test: no Provider flux-system/nope\n');

    const unknown = await herald(['deliveries', 'show', 'no-such-id', ...common]);
    expect(unknown).toEqual({ code: 1, stdout: '', stderr: 'herald deliveries show: no delivery no-such-id\n' });

    sink.respondWith(() => ({ status: 400 }));
    expect((await server.postEvent(kustomizationEvent({ message: 'second' }))).status).toBe(202);
    await until(async () => (await deadLetters(server, token)) === 1, { timeoutMs: 20_000, what: 'a second dead letter' });
    const refused = await herald(['deliveries', 'purge', '--all', ...common]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.split('\n')[0]).toBe('herald deliveries purge: purging every dead letter cannot be undone: add --yes (no terminal to ask at)');
    expect(await herald(['deliveries', 'purge', '--all', '--yes', ...common])).toMatchObject({ code: 0, stdout: 'purged 1\n' });

    // The token went to the server only: never into any output.
    const everything = [explained, table, shown, replayed, again, refused, providers, described, tested, refusedTest].map((r) => r.stdout + r.stderr).join('\n') + server.output.join('\n');
    expect(everything).not.toContain(token);
  });

  it('deliveries retry-now: a delayed delivery, its next attempt an hour away, is delivered now', { timeout: 300_000 }, async () => {
    const { sink, server, token, tokenFile } = await setup(['--max-attempts', '3', '--retry-base-delay', '1h', '--retry-max-delay', '2h']);
    const common = ['--server', server.adminUrl, '--token-file', tokenFile];
    // A 503 is retried (a 400 would be final: a dead letter at once).
    sink.respondWith(() => ({ status: 503, body: 'busy' }));
    expect((await server.postEvent(kustomizationEvent({ message: 'later' }))).status).toBe(202);
    await sink.waitFor(1);
    const delayed = await until(async () => {
      const res = await fetch(`${server.adminUrl}/deliveries?state=delayed`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as Listed).deliveries[0];
    }, { timeoutMs: 20_000, what: 'a delayed delivery' });
    const listed = await herald(['deliveries', 'list', '--state', 'delayed', ...common]);
    expect(listed.stdout).toMatch(/delayed +flux-system\/sink +flux-system\/all-kustomizations +Kustomization\/flux-system\/apps +1\/3 +in \d+m /);
    // An hour, less the retry policy's jitter.
    expect(Number(/in (\d+)m/.exec(listed.stdout)?.[1])).toBeGreaterThanOrEqual(30);
    sink.respondWith(() => ({ status: 200 }));
    expect(await herald(['deliveries', 'retry-now', delayed.id, ...common])).toMatchObject({ code: 0, stdout: `${delayed.id} is due now\n` });
    await sink.waitFor(2, 20_000);
    const again = await herald(['deliveries', 'retry-now', delayed.id, ...common]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/only a delayed delivery or a dead letter can be retried now/);
  });
});
