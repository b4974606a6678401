/**
 * Security checks of issue 5: no Secret value — token, password, address with credentials,
 * HMAC key, header value, proxy credentials, admin token — in anything Herald produces, even
 * when the providers do their worst: answering errors that quote the request back (URL with
 * its path token, every header, basic-auth credentials), quoting a secret right across the
 * point where Herald cuts a long answer, redirecting to another origin with a token in the
 * `Location` that the next server quotes back, and manifests whose Secrets do not even parse
 * (tags, invalid escapes, aliases, flow maps: the YAML parser's own messages quote them). And
 * every `generic-hmac` request verifies with the receiving side's own check. The non-HTTP and
 * token-exchanging types too: a GitHub App (private key, its JWT and the installation token it
 * buys, each quoted back by the API), `nats` (password and NKey seed, server down),
 * `azureeventhub` (the key in its connection string, namespace down) and `otel`
 * (password sent as a Bearer token, quoted back). And Receivers: their Secret's token in no
 * answer, log or status, whatever wrong token or signature a caller sends.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { freePort, startHerald } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startSink, type ReceivedRequest, type Sink } from '../support/sink.js';
import { makeTempDir } from '../support/tmp.js';
import { kustomizationAlert, secret } from '../e2e/manifests.js';
import { webhookPath } from '../../src/receivers/webhook-path.js';
import { faultFile, captureHerald, hmacVerifies, messageOf } from './fault-support.js';
import { until } from '../support/wait.js';

const { cleanups, planted, captured } = faultFile('secret-scan');

async function sink(): Promise<Sink> {
  const s = await startSink();
  cleanups.push(() => s.close());
  return s;
}

/** What an unhelpful server says: the request quoted back, Express-style. */
function echo(status: number) {
  return (req: ReceivedRequest) => ({ status, body: `Cannot ${req.method} ${req.url}; you sent ${JSON.stringify(req.headers)}` });
}

function provider(name: string, type: string, spec: string): string {
  return `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: ${name}
  namespace: flux-system
spec:
  type: ${type}
${spec}`;
}

function rawSecret(name: string, body: string): string {
  return `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  namespace: flux-system\n${body}`;
}

describe('secret scan', () => {
  it('never shows a planted secret, whatever the providers answer, and generic-hmac signatures verify', async () => {
    const [echo500, echo404, basic, cutter, signed, redirector] = [await sink(), await sink(), await sink(), await sink(), await sink(), await sink()];
    const deadProxyPort = await freePort();

    const adminToken = planted.plant('admintoken');
    const urlUser = planted.plant('urluser');
    const urlPass = planted.plant('urlpass');
    const pathToken = planted.plant('pathtoken');
    const queryToken = planted.plant('querytoken');
    const apiKey = planted.plant('apikey');
    const bearer = planted.plant('bearer');
    const pathToken404 = planted.plant('pathtoken404');
    const basicUser = planted.plant('basicuser');
    const basicPass = planted.plant('basicpass');
    planted.alsoLookFor('basic-auth header', Buffer.from(`${basicUser}:${basicPass}`).toString('base64'));
    const proxyUser = planted.plant('proxyuser');
    const proxyPass = planted.plant('proxypass');
    const cutterKey = planted.plant('cutterhmac');
    const signedKey = planted.plant('signedhmac');
    const signedHeader = planted.plant('signedheader');
    // Secrets whose manifests are broken, in ways that make YAML or validation talk about them.
    const aliasPass = planted.plant('aliaspass');
    const blockPass = planted.plant('blockpass');
    const foldPass = planted.plant('foldpass');
    const badUrlPass = planted.plant('badurlpass');
    const ftpPass = planted.plant('ftppass');
    const badHeader = planted.plant('badheader');
    const badBase64 = planted.plant('badbase64');
    // A provider redirecting to another origin with a token in the Location, which the next one quotes back.
    const locationToken = planted.plant('locationtoken');
    const redirectKey = planted.plant('redirectkey');
    // YAML that makes the parser quote the value (issue 8): a tag with no suffix, an unknown
    // tag (once loaded silently as an empty string), an invalid escape (the parser quoted the 8
    // characters after `\U`: `z` and 7 of the value), an alias of another value, a flow map.
    const tagPass = planted.plant('tagpass');
    const unknownTag = planted.plant('unknowntag');
    const escapePass = planted.plant('escapepass');
    planted.alsoLookFor('escape window', escapePass.slice(escapePass.lastIndexOf('-') + 1).slice(0, 7));
    const anchoredPass = planted.plant('anchoredpass');
    const flowPass = planted.plant('flowpass');
    const installationToken = planted.plant('ghsinstallation');
    const natsPass = planted.plant('natspass');
    const otelToken = planted.plant('oteltoken');
    const eventHubKey = planted.plant('eventhubkey');
    // spec.commitStatusExpr failing per event, on a Provider whose repository and token come from
    // its Secret, and a misspelt spec key holding a value: the warning names the key only.
    const exprRepo = planted.plant('exprrepo');
    const exprToken = planted.plant('exprtoken');
    const typoValue = planted.plant('typovalue');
    const appKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // The private key's base64 lines, each long enough to be unmistakable.
    appKey.split('\n').filter((line) => line.length >= 40).forEach((line, i) => planted.alsoLookFor(`app private key line ${i}`, line));
    const natsSeed = new TextDecoder().decode(nkeys.createUser().getSeed());
    planted.alsoLookFor('nats nkey seed', natsSeed);
    // The GitHub API of the App: sells the installation token, then quotes every request back.
    const ghApi = await sink();
    ghApi.respondWith((req) =>
      req.url.endsWith('/access_tokens')
        ? { status: 201, body: JSON.stringify({ token: installationToken, expires_at: new Date(Date.now() + 3_600_000).toISOString() }) }
        : echo(500)(req),
    );
    // Another App's API refuses the JWT, quoting it back.
    const ghDenied = await sink();
    ghDenied.respondWith(echo(401));
    const otelSink = await sink();
    otelSink.respondWith(echo(500));
    const natsDownPort = await freePort();

    echo500.respondWith(echo(500));
    echo404.respondWith(echo(404));
    basic.respondWith(echo(503));
    // A provider that quotes the key back after a long preamble: right across Herald's 512-character cut.
    cutter.respondWith(() => ({ status: 500, body: `${'.'.repeat(473)} rejected key ${cutterKey}` }));
    redirector.respondWith(() => ({ status: 307, headers: { location: `${echo500.url}/moved/${locationToken}?sig=${locationToken}` } }));

    const manifests: Record<string, string> = {
      'echo500.yaml': provider('echo500', 'generic', '  secretRef:\n    name: echo500\n'),
      'echo500-secret.yaml': secret('echo500', {
        address: `http://${urlUser}:${urlPass}@127.0.0.1:${echo500.port}/hooks/${pathToken}?key=${queryToken}`,
        headers: `X-Api-Key: ${apiKey}\nAuthorization: Bearer ${bearer}\n`,
      }),
      'echo404.yaml': provider('echo404', 'generic', '  secretRef:\n    name: echo404\n'),
      'echo404-secret.yaml': secret('echo404', { address: `http://127.0.0.1:${echo404.port}/hooks/${pathToken404}` }),
      'basic.yaml': provider('basic', 'alertmanager', `  address: ${basic.url}/api/v2/alerts\n  secretRef:\n    name: basic\n`),
      'basic-secret.yaml': secret('basic', { username: basicUser, password: basicPass }),
      'proxied.yaml': provider('proxied', 'generic', `  address: http://127.0.0.1:${echo500.port}/via-proxy\n  proxySecretRef:\n    name: proxy\n`),
      'proxy-secret.yaml': secret('proxy', { address: `http://127.0.0.1:${deadProxyPort}`, username: proxyUser, password: proxyPass }),
      'cutter.yaml': provider('cutter', 'generic-hmac', `  address: ${cutter.url}/hook\n  secretRef:\n    name: cutter\n`),
      'cutter-secret.yaml': secret('cutter', { token: cutterKey }),
      'signed.yaml': provider('signed', 'generic-hmac', `  address: ${signed.url}/hook\n  secretRef:\n    name: signed\n`),
      'signed-secret.yaml': secret('signed', { token: signedKey, headers: `X-Auth: ${signedHeader}\n` }),
      'redirector.yaml': provider('redirector', 'generic', `  address: ${redirector.url}/hook\n  secretRef:\n    name: redirector\n`),
      'redirector-secret.yaml': secret('redirector', { headers: `X-Api-Key: ${redirectKey}\n` }),
      'ghapp.yaml': provider('ghapp', 'githubdispatch', `  address: ${ghApi.url}/org/repo\n  secretRef:\n    name: ghapp\n`),
      'ghapp-secret.yaml': secret('ghapp', {
        githubAppID: '77',
        githubAppInstallationID: '88',
        githubAppPrivateKey: appKey,
        githubAppBaseURL: `${ghApi.url}/`,
      }),
      'ghdenied.yaml': provider('ghdenied', 'githubdispatch', `  address: ${ghDenied.url}/org/repo\n  secretRef:\n    name: ghdenied\n`),
      'ghdenied-secret.yaml': secret('ghdenied', {
        githubAppID: '77',
        githubAppInstallationOwner: 'acme',
        githubAppPrivateKey: appKey,
        githubAppBaseURL: `${ghDenied.url}/`,
      }),
      'natsdown.yaml': provider('natsdown', 'nats', `  address: nats://127.0.0.1:${natsDownPort}\n  channel: flux\n  secretRef:\n    name: natsdown\n`),
      'natsdown-secret.yaml': secret('natsdown', { username: 'flux', password: natsPass, nkey: natsSeed }),
      'eventhub.yaml': provider('eventhub', 'azureeventhub', `  secretRef:\n    name: eventhub\n`),
      'eventhub-secret.yaml': secret('eventhub', {
        address: `Endpoint=sb://127.0.0.1:${natsDownPort};SharedAccessKeyName=flux;SharedAccessKey=${eventHubKey};EntityPath=hub;UseDevelopmentEmulator=true`,
      }),
      'exprfail.yaml': provider(
        'exprfail',
        'github',
        `  secretRef:\n    name: exprfail\n  commitStatusExpr: "provider.spec.type + '/' + event.metadata.nothere"\n  tokne: ${typoValue}\n`,
      ),
      'exprfail-secret.yaml': secret('exprfail', { address: `http://127.0.0.1:${natsDownPort}/org/${exprRepo}`, token: exprToken }),
      'otel.yaml': provider('otel', 'otel', `  address: ${otelSink.url}/v1/traces\n  secretRef:\n    name: otel\n`),
      'otel-secret.yaml': secret('otel', { password: otelToken }),
      // Broken Secrets and the Providers that name them.
      'alias-secret.yaml': rawSecret('alias', `stringData:\n  password: *${aliasPass}\n`),
      'block-secret.yaml': rawSecret('block', `stringData:\n  password: |${blockPass}\n`),
      'fold-secret.yaml': rawSecret('fold', `stringData:\n  token: >${foldPass} trailing\n`),
      'badurl-secret.yaml': secret('badurl', { address: `http//admin:${badUrlPass}@127.0.0.1/hook` }),
      'ftp-secret.yaml': secret('ftp', { address: `ftp://admin:${ftpPass}@127.0.0.1/hook` }),
      'badheader-secret.yaml': secret('badheader', { headers: `X-Key: [${badHeader}\n` }),
      'base64-secret.yaml': rawSecret('b64', `data:\n  token: "${badBase64}!"\n`),
      'tag-secret.yaml': rawSecret('tag', `stringData:\n  token: !${tagPass}!\n`),
      'unknowntag-secret.yaml': rawSecret('unknowntag', `stringData:\n  token: !${unknownTag}\n`),
      'escape-secret.yaml': rawSecret('escape', `stringData:\n  token: "\\Uz${escapePass.slice(escapePass.lastIndexOf('-') + 1)}"\n`),
      'anchored-secret.yaml': rawSecret('anchored', `stringData:\n  other: &a ${anchoredPass}\n  token: *a\n`),
      'flow-secret.yaml': rawSecret('flow', `stringData:\n  token: {${flowPass}: 1}\n`),
      'broken-providers.yaml': ['alias', 'block', 'fold', 'badurl', 'ftp', 'badheader', 'b64', 'tag', 'unknowntag', 'escape', 'anchored', 'flow']
        .map((name) => provider(`uses-${name}`, 'generic', `  address: http://127.0.0.1:1/x\n  secretRef:\n    name: ${name}\n`))
        .join('---\n'),
      'alerts.yaml': ['echo500', 'echo404', 'basic', 'proxied', 'cutter', 'signed', 'redirector', 'ghapp', 'ghdenied', 'natsdown', 'eventhub', 'otel', 'exprfail']
        .map((p) => kustomizationAlert({ name: `to-${p}`, provider: p }))
        .join('---\n'),
    };
    // badurl and ftp: the address comes from the Secret, so the spec one must go.
    for (const name of ['badurl', 'ftp']) {
      manifests['broken-providers.yaml'] = (manifests['broken-providers.yaml'] as string).replace(
        `  address: http://127.0.0.1:1/x\n  secretRef:\n    name: ${name}\n`,
        `  secretRef:\n    name: ${name}\n`,
      );
    }

    const prefix = uniquePrefix('secret-scan');
    cleanups.push(() => deletePrefix(prefix));
    const h = await startHerald({
      manifests,
      redisUrl: REDIS_URL,
      extraArgs: ['--redis-prefix', prefix, '--log-level', 'trace', '--max-attempts', '2', '--retry-base-delay', '50ms', '--retry-max-delay', '200ms'],
      env: { HERALD_ADMIN_TOKEN: adminToken },
    });
    cleanups.push(async () => (await h.stop(), await h.cleanup()));
    const auth = { authorization: `Bearer ${adminToken}` };

    for (const message of ['first', 'second', 'third']) {
      expect((await h.postEvent(kustomizationEvent({ message: `scan ${message}` }))).status).toBe(202);
    }
    // An error event reaches the commit-status Provider without a commit: its expression fails.
    expect((await h.postEvent(kustomizationEvent({ severity: 'error', message: 'scan expression' }))).status).toBe(202);
    // Eleven failing providers × three events end as dead letters; the signed one delivers.
    const deadCount = 11 * 3;
    const dead = await until(
      async () => {
        const body = (await (await fetch(`${h.adminUrl}/deliveries?state=failed&limit=500`, { headers: auth })).json()) as {
          deliveries: Array<{ id: string; data: { provider: string }; lastError?: string }>;
        };
        const exprFailed = body.deliveries.some((d) => d.data.provider.endsWith('/exprfail'));
        return body.deliveries.length >= deadCount && exprFailed ? body.deliveries : undefined;
      },
      { timeoutMs: 20_000, what: 'dead letters' },
    );
    await until(() => signed.requests.length >= 3, { timeoutMs: 10_000, what: 'signed deliveries' });
    for (const d of dead) {
      captured[`admin delivery ${d.id}`] = await (await fetch(`${h.adminUrl}/deliveries/${encodeURIComponent(d.id)}`, { headers: auth })).text();
    }
    captured['admin with a wrong token'] = await (await fetch(`${h.adminUrl}/deliveries`, { headers: { authorization: 'Bearer nope' } })).text();
    Object.assign(captured, await captureHerald(h, adminToken));

    // The providers really did quote the secrets back: the scan is looking at something.
    expect(echo500.requests.length).toBeGreaterThan(0);
    expect(echo500.requests[0]?.url).toBe(`/hooks/${pathToken}?key=${queryToken}`);
    expect(echo500.requests[0]?.headers['x-api-key']).toBe(apiKey);
    const followed = echo500.requests.find((r) => r.url.startsWith('/moved/'));
    expect(followed?.url).toBe(`/moved/${locationToken}?sig=${locationToken}`);
    expect(followed?.headers['x-api-key']).toBeUndefined();
    expect(basic.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from(`${basicUser}:${basicPass}`).toString('base64')}`);
    // The App's JWT and installation token went out, and came back quoted in the answers.
    const appCalls = ghApi.requests.map((r) => String(r.headers.authorization ?? ''));
    expect(appCalls.some((a) => a === `Bearer ${installationToken}`)).toBe(true);
    const jwt = ghApi.requests.find((r) => r.url.endsWith('/access_tokens'))?.headers.authorization;
    expect(String(jwt)).toMatch(/^Bearer eyJ/);
    planted.alsoLookFor('GitHub App JWT', String(jwt).slice('Bearer '.length));
    expect(ghDenied.requests.length).toBeGreaterThan(0);
    ghDenied.requests.forEach((r, i) => planted.alsoLookFor(`refused GitHub App JWT ${i}`, String(r.headers.authorization).slice('Bearer '.length)));
    expect(otelSink.requests[0]?.headers.authorization).toBe(`Bearer ${otelToken}`);
    const lastErrors = dead.map((d) => `${d.data.provider}: ${d.lastError ?? ''}`);
    expect(lastErrors.filter((e) => e.includes('*****')).length).toBeGreaterThan(0);
    expect(lastErrors.find((e) => e.includes('/exprfail:'))).toMatch(/failed to evaluate spec\.commitStatusExpr for the event: No such key: nothere/);

    // Every broken Secret is reported, by name and key, without its value.
    const resources = captured.resources as string;
    for (const name of ['uses-alias', 'uses-block', 'uses-fold', 'uses-badurl', 'uses-ftp', 'uses-badheader', 'uses-b64']) {
      expect(resources).toContain(name);
    }
    expect(resources).toMatch(/alias-secret\.yaml/);
    expect(resources).toMatch(/data\.token is not valid base64/);
    expect(resources).toContain('unknown field spec.tokne is ignored');
    // None of these Secrets loads: each Provider naming one says the Secret was not found.
    const status = JSON.parse(resources) as { resources: Array<{ name: string; ready: { reason: string } }>; problems: Array<{ file: string; message: string }> };
    for (const name of ['tag', 'unknowntag', 'escape', 'anchored', 'flow']) {
      expect(status.resources.find((r) => r.name === `uses-${name}`)?.ready.reason, name).toBe('SecretNotFound');
    }
    // Invalid base64 is said as such on the Provider, naming the Secret and key (the scan below proves no value leaked).
    const b64 = status.resources.find((r) => r.name === 'uses-b64')?.ready as { reason: string; message: string } | undefined;
    expect(b64?.reason).toBe('InvalidSecret');
    expect(b64?.message).toMatch(/Secret '[^']*\/b64' named by spec\.secretRef cannot be used: data\.token is not valid base64/);
    const problemOf = (file: string) => status.problems.find((p) => p.file === file)?.message;
    expect(problemOf('tag-secret.yaml')).toMatch(/^invalid YAML at line 7, column 10: TAG_RESOLVE_FAILED$/);
    expect(problemOf('unknowntag-secret.yaml')).toMatch(/^invalid YAML at line 7, column 10: TAG_RESOLVE_FAILED$/);
    expect(problemOf('escape-secret.yaml')).toMatch(/^invalid YAML at line 7, column \d+: BAD_DQ_ESCAPE$/);
    expect(problemOf('anchored-secret.yaml')).toBe('Secret flux-system/anchored: stringData.token must be a plain string (no tag, alias, map or list)');
    expect(problemOf('flow-secret.yaml')).toBe('Secret flux-system/flow: stringData.token must be a string (quote it)');

    // generic-hmac: the receiving side's own check passes for every request, delivered or not.
    for (const [s, key] of [
      [signed, signedKey],
      [cutter, cutterKey],
    ] as const) {
      expect(s.requests.length).toBeGreaterThan(0);
      for (const req of s.requests) expect(hmacVerifies(req, key), `${s.url} ${messageOf(req)}`).toBe(true);
    }
    for (const req of signed.requests) expect(req.headers['x-auth']).toBe(signedHeader);
    console.log(
      `[secret-scan] dead letters=${dead.length} signed requests verified=${signed.requests.length + cutter.requests.length} ` +
        `echoed requests=${echo500.requests.length + echo404.requests.length + basic.requests.length}; last errors: ${lastErrors
          .filter((_, i, all) => all.findIndex((e) => e.split(':')[0] === all[i]?.split(':')[0]) === i)
          .map((e) => e.slice(0, 120))
          .join(' | ')}`,
    );
  }, 60_000);

  it('never shows a Receiver token, in answers to good, badly signed or wrongly tokened webhooks', async () => {
    const githubToken = planted.plant('receivergithub');
    const gitlabToken = planted.plant('receivergitlab');
    const wrongKey = planted.plant('receiverwrongkey');
    const bodySecret = planted.plant('receiverbody');
    const receiver = (name: string, type: string) => `apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: ${name}
  namespace: flux-system
spec:
  type: ${type}
  secretRef:
    name: ${name}
  resources:
    - kind: GitRepository
      name: webapp
`;
    const h = await startHerald({
      manifests: {
        'receivers.yaml': [receiver('gh', 'github'), receiver('gl', 'gitlab')].join('---\n'),
        'secrets.yaml': [secret('gh', { token: githubToken }), secret('gl', { token: gitlabToken })].join('---\n'),
        'repo.yaml': 'apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: webapp\n  namespace: flux-system\n',
      },
      extraArgs: ['--log-level', 'trace'],
    });
    cleanups.push(async () => (await h.stop(), await h.cleanup()));
    const post = async (path: string, headers: Record<string, string>, body: string) => {
      const res = await fetch(`${h.receiverUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      return { status: res.status, text: `${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}` };
    };
    const body = JSON.stringify({ ref: 'refs/heads/main', note: bodySecret });
    const sign = (key: string) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
    const gh = webhookPath(githubToken, 'gh', 'flux-system');
    const gl = webhookPath(gitlabToken, 'gl', 'flux-system');
    const tries: Array<[string, string, Record<string, string>, number]> = [
      ['github signed', gh, { 'x-github-event': 'push', 'x-hub-signature-256': sign(githubToken) }, 200],
      ['github signed with another key', gh, { 'x-github-event': 'push', 'x-hub-signature-256': sign(wrongKey) }, 401],
      ['github with the key as signature', gh, { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${githubToken}` }, 401],
      ['gitlab with a wrong token', gl, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': wrongKey }, 401],
      ['gitlab with the token', gl, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': gitlabToken }, 200],
      ['unknown path carrying a token', `/hook/${githubToken}`, { 'x-gitlab-token': gitlabToken }, 404],
    ];
    for (const [what, path, headers, expected] of tries) {
      const answer = await post(path, headers, body);
      captured[`receiver: ${what}`] = answer.text;
      expect(answer.status, what).toBe(expected);
    }
    Object.assign(captured, await captureHerald(h));
    // The scan looks at something: both Receivers are Ready and were answered.
    expect(captured.resources).toContain(gh);
    expect(captured.metrics).toMatch(/herald_receiver_requests_total\{type="github",outcome="unauthorized"\} 2/);
  }, 60_000);

  it('never shows an admin token read from --admin-token-file, in answers to wrong, cross-site or malformed requests, or in a bad file', async () => {
    const fileToken = planted.plant('filetoken');
    const dir = await makeTempDir('herald-token-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'token'), `${fileToken}\n`);
    const h = await startHerald({ extraArgs: ['--admin-token-file', join(dir, 'token'), '--log-level', 'trace'] });
    cleanups.push(async () => (await h.stop(), await h.cleanup()));
    const near = `${fileToken.slice(0, -1)}x`;
    const tries: Array<[string, Record<string, string>]> = [
      ['lower-case scheme', { authorization: `bearer ${fileToken}` }],
      ['a near miss', { authorization: `Bearer ${near}` }],
      ['a longer one', { authorization: `Bearer ${fileToken}${fileToken}` }],
      ['cross-site with the token', { authorization: `Bearer ${fileToken}`, origin: 'http://evil.example' }],
    ];
    for (const [what, headers] of tries) captured[`admin: ${what}`] = await (await fetch(`${h.adminUrl}/deliveries`, { headers })).text();
    captured['admin: replay as text/plain'] = await (
      await fetch(`${h.adminUrl}/dead-letters/replay`, { method: 'POST', headers: { authorization: `Bearer ${fileToken}`, 'content-type': 'text/plain' }, body: fileToken })
    ).text();
    Object.assign(captured, await captureHerald(h, fileToken));
    expect(captured['admin: lower-case scheme']).toContain('deliveries');

    // A token file holding two words (one a secret) is refused without quoting it.
    const twoWords = planted.plant('twowords');
    await writeFile(join(dir, 'bad'), `${twoWords} ${twoWords}\n`);
    captured['start with a bad token file'] = await startHerald({ extraArgs: ['--admin-token-file', join(dir, 'bad')] }).then(
      async (started) => (await started.stop(), 'started'),
      (err: Error) => err.message,
    );
    expect(captured['start with a bad token file']).toMatch(/--admin-token-file: .* must hold one token/);
  }, 60_000);

  it('never shows a Git or registry credential of image automation, in statuses, explain, events or logs', async () => {
    const gitPass = planted.plant('gitpass');
    const urlGitPass = planted.plant('urlgitpass');
    const registryPass = planted.plant('registrypass');
    planted.alsoLookFor('registry basic-auth', Buffer.from(`robot:${registryPass}`).toString('base64'));
    planted.alsoLookFor('git basic-auth', Buffer.from(`git:${gitPass}`).toString('base64'));
    // A Git server and a registry that ask for Basic credentials, then quote the request that
    // carries them back, headers included.
    const challengeThenEcho = (req: ReceivedRequest) =>
      req.headers.authorization ? echo(500)(req) : { status: 401, headers: { 'www-authenticate': 'Basic realm="quoting"' }, body: 'who are you?' };
    const gitServer = await sink();
    gitServer.respondWith(challengeThenEcho);
    const registry = await sink();
    registry.respondWith(challengeThenEcho);
    const notified = await sink();
    const dockerConfig = JSON.stringify({ auths: { [registry.url.replace('http://', '')]: { username: 'robot', password: registryPass } } });
    const manifests = {
      'alerting.yaml': `${provider('images', 'generic', `  address: ${notified.url}/hook`)}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: { name: images, namespace: flux-system }
spec:
  providerRef: { name: images }
  eventSources: [{ kind: ImageRepository, name: '*' }, { kind: ImagePolicy, name: '*' }, { kind: ImageUpdateAutomation, name: '*' }]
`,
      'secrets.yaml': `${secret('git-auth', { username: 'git', password: gitPass })}
---
${rawSecret('pull', `type: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '${dockerConfig}'\n`)}`,
      'images.yaml': `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: { name: app, namespace: flux-system }
spec: { image: '${registry.url.replace('http://', '')}/team/app', interval: 1m, secretRef: { name: pull } }
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: { name: app, namespace: flux-system }
spec: { imageRepositoryRef: { name: app }, policy: { semver: { range: '>=1.0.0' } } }
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: { name: with-secret, namespace: flux-system }
spec: { url: '${gitServer.url}/fleet.git', secretRef: { name: git-auth }, ref: { branch: main } }
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: { name: in-url, namespace: flux-system }
spec: { url: 'http://git:${urlGitPass}@${gitServer.url.replace('http://', '')}/other.git', ref: { branch: main } }
---
${['with-secret', 'in-url']
  .map(
    (name) => `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: { name: ${name}, namespace: flux-system }
spec:
  interval: 1h
  sourceRef: { kind: GitRepository, name: ${name} }
  git: { commit: { author: { name: bot, email: bot@example.com } }, push: { branch: main } }
  update: { path: ./, strategy: Setters }`,
  )
  .join('\n---\n')}
`,
    };
    const h = await startHerald({ manifests, extraArgs: ['--log-level', 'trace', '--retry-base-delay', '100ms'] });
    cleanups.push(async () => (await h.stop(), await h.cleanup()));
    await until(
      async () => {
        const text = await (await fetch(`${h.healthUrl}/resources`)).text();
        const failed = (JSON.parse(text) as { resources: Array<{ kind: string; ready: { status: string } }> }).resources.filter((r) => r.ready.status === 'False');
        const failedKinds = failed.map((r) => r.kind);
        // Each automation, not any three resources: the policy fails with the scan, and a
        // failed automation must not stand for one that has not tried its credentials yet.
        const bothAutomations = failedKinds.filter((kind) => kind === 'ImageUpdateAutomation').length === 2;
        const credentialsSent = gitServer.requests.filter((r) => r.headers.authorization).length >= 2;
        return failedKinds.includes('ImageRepository') && bothAutomations && credentialsSent && notified.requests.length >= 3;
      },
      { timeoutMs: 30_000, what: 'the scan and both automations failing after sending their credentials, and their events delivered' },
    );
    // Both automations and the scan did send their credentials (and had them quoted back).
    expect(gitServer.requests.filter((r) => r.headers.authorization).length).toBeGreaterThanOrEqual(2);
    expect(registry.requests.some((r) => r.headers.authorization)).toBe(true);
    Object.assign(captured, await captureHerald(h));
    captured['image notifications'] = notified.requests.map((r) => r.body).join('\n');
  }, 60_000);
});
