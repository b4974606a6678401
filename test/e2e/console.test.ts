/**
 * The web console in a real browser (Debian's chromium driven by playwright-core) against a
 * running Herald, in both queue modes: every page loads behind the token prompt, an event's
 * markup is shown as text, deliveries are filtered, a dead letter is replayed by clicking (with
 * its confirmation) and reaches the sink, another is purged, a delayed one is retried now, an
 * event is explained and a Provider tested. Without a token the console just works, and a page
 * of another site cannot replay anything. A screenshot of each page goes to
 * test-artifacts/console/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { startHerald, type HeraldProcess, type StartOptions } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startSink, type Sink } from '../support/sink.js';
import { until } from '../support/wait.js';
import { kustomizationAlert, secret, webhookProvider } from './manifests.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'console-admin-token-7d3a';
/** An event whose message is markup that would run script if the console ever parsed it as HTML. */
const XSS_MESSAGE = 'Health check failed <img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>';

const MISSING_CHROMIUM = `the console tests drive Debian's chromium at ${CHROMIUM}, which is missing: apt-get install -y chromium (.ci/run installs it), or set HERALD_CHROMIUM`;

let browser: Browser | undefined;

/** The launched browser; without chromium every group stops here, and the test below says why. */
function theBrowser(): Browser {
  if (!browser) throw new Error(MISSING_CHROMIUM);
  return browser;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-sync',
      '--no-first-run',
      '--disable-features=Translate,MediaRouter,OptimizationHints',
    ],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 60_000);

// Counted as a failed test (not only a failed file) when chromium is absent: CI installs it, so its absence is a broken setup.
it('has chromium to drive', () => {
  expect(existsSync(CHROMIUM), MISSING_CHROMIUM).toBe(true);
});

afterAll(async () => {
  await browser?.close();
});

interface Delivery {
  id: string;
  state: string;
  attemptsMade: number;
  nextAttemptAt?: number;
  data: { provider: string; alert: string; event: { message: string } };
}

/** The admin API as a script sees it (not the page): for setting up and checking what the clicks did. */
function adminApi(herald: HeraldProcess, token?: string) {
  return async <T = Record<string, unknown>>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${herald.adminUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as T };
  };
}

async function deliveriesIn(herald: HeraldProcess, state: string, token?: string): Promise<Delivery[]> {
  const { body } = await adminApi(herald, token)<{ deliveries: Delivery[] }>(`/deliveries?state=${state}`);
  return body.deliveries;
}

/** axe-core's rules for WCAG 2 A and AA, run in the page (evaluated over the DevTools protocol, which the page's CSP does not govern). */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: unknown) => Promise<{ violations: Array<{ id: string; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
  });
  return violations;
}

/** Checks the page with axe, then keeps its screenshot. */
async function screenshot(page: Page, name: string): Promise<void> {
  expect(await accessibilityViolations(page), name).toEqual([]);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Clicks the confirmation dialog's button (`Cancel` or the action). */
async function answerDialog(page: Page, button: string): Promise<void> {
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await dialog.getByRole('button', { name: button, exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
}

const modes: Array<[string, string, () => Partial<StartOptions> & { cleanup?: () => Promise<void> }]> = [
  ['in-process queue', 'memory', () => ({})],
  [
    'Redis queue',
    'redis',
    () => {
      const prefix = uniquePrefix('console');
      return { redisUrl: REDIS_URL, extraArgs: ['--redis-prefix', prefix], cleanup: () => deletePrefix(prefix) };
    },
  ],
];

describe.each(modes)('web console with the %s', (_name, slug, mode) => {
  let sink: Sink;
  let herald: HeraldProcess;
  let page: Page;
  let cleanupMode: (() => Promise<void>) | undefined;
  /** Once set, the sink accepts what comes to /a; /b always refuses, /c always fails for a while. */
  let acceptA = false;
  const shot = (name: string) => screenshot(page, `${slug}-${name}`);

  beforeAll(async () => {
    const context = await theBrowser().newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    sink = await startSink((req) => {
      if (req.url === '/a' && acceptA) return { status: 200, body: '{"ok":true}' };
      if (req.url === '/c') return { status: 503, body: 'try later' };
      return { status: 400, body: '<b>rejected</b> by the sink' };
    });
    const { cleanup, ...options } = mode();
    cleanupMode = cleanup;
    herald = await startHerald({
      ...options,
      manifests: {
        'p.yaml': webhookProvider({ address: `${sink.url}/a`, type: 'generic-hmac', secretName: 'hmac' }),
        's.yaml': secret('hmac', { token: 'hmac-key-for-console-test' }),
        'p2.yaml': webhookProvider({ name: 'other', address: `${sink.url}/b` }),
        'p3.yaml': webhookProvider({ name: 'slow', address: `${sink.url}/c` }),
        'a.yaml': kustomizationAlert(),
        'a2.yaml': kustomizationAlert({ name: 'to-other', provider: 'other' }),
        'a3.yaml': kustomizationAlert({ name: 'to-slow', provider: 'slow' }),
      },
      // A 503 waits 10 minutes before its next try: the delivery stays delayed until "Retry now".
      extraArgs: [...(options.extraArgs ?? []), '--max-attempts', '5', '--retry-base-delay', '10m', '--retry-max-delay', '10m'],
      env: { HERALD_ADMIN_TOKEN: TOKEN },
    });
    expect((await herald.postEvent(kustomizationEvent({ message: XSS_MESSAGE }))).status).toBe(202);
    await until(async () => (await deliveriesIn(herald, 'failed', TOKEN)).length === 2 && (await deliveriesIn(herald, 'delayed', TOKEN)).length === 1, {
      timeoutMs: 20_000,
      what: 'two dead letters and one delayed delivery',
    });
  }, 60_000);

  afterAll(async () => {
    await page?.context().close();
    await herald?.stop();
    await herald?.cleanup();
    await sink?.close();
    await cleanupMode?.();
  });

  it('serves the pages without the token; the API answers 401 without it, and the page asks for it', async () => {
    const bare = await fetch(`${herald.adminUrl}/console/`);
    expect(bare.status).toBe(200);
    expect(bare.headers.get('content-security-policy')).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    expect(bare.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await adminApi(herald)('/deliveries')).status).toBe(401);
    expect((await adminApi(herald)('/resources')).status).toBe(401);

    await page.goto(`${herald.adminUrl}/console`);
    const tokenInput = page.getByLabel('Admin token');
    await tokenInput.waitFor();
    expect(await page.locator('#token-why').textContent()).toContain('requires its admin token');
    // The prompt takes the focus, so the operator can type at once.
    expect(await tokenInput.evaluate((input) => input === document.activeElement)).toBe(true);
    await shot('token');

    await tokenInput.fill('not-the-token');
    await page.keyboard.press('Enter');
    await until(async () => (await page.locator('#token-why').textContent())?.includes('refused'), { what: 'the wrong token refused' });
    await tokenInput.fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('#token-form').waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => sessionStorage.getItem('herald.adminToken'))).toBe(TOKEN);
  });

  it('resources: every Provider, Alert and Receiver with Ready, reason, message and suspended', async () => {
    await page.goto(`${herald.adminUrl}/console/`);
    const providers = page.getByRole('table', { name: /Providers/ });
    await providers.waitFor();
    const text = await providers.innerText();
    for (const name of ['flux-system/sink', 'flux-system/other', 'flux-system/slow']) expect(text).toContain(name);
    expect(text).toMatch(/Ready/);
    expect(await page.getByRole('table', { name: /Alerts/ }).innerText()).toContain('flux-system/to-other');
    expect(await page.getByRole('columnheader', { name: 'Suspended' }).count()).toBeGreaterThan(0);
    // The token typed on the first page is kept for this tab: no prompt again.
    expect(await page.locator('#token-form').isHidden()).toBe(true);
    await shot('resources');
  });

  it('live numbers: queue depth and delivery rates, polled', async () => {
    await page.goto(`${herald.adminUrl}/console/`);
    await until(async () => /^\d+$/.test((await page.locator('#live-failed').textContent()) ?? ''), { what: 'the live dead-letter count' });
    expect(await page.locator('#live-failed').textContent()).toBe('2');
    expect(await page.locator('#live-delayed').textContent()).toBe('1');
    expect(await page.locator('#live-dead').textContent()).toMatch(/^\d+\.\d\d$/);
    expect(await page.locator('.live dl').first().getAttribute('aria-live')).toBe('polite');
  });

  it('deliveries: filtered by state, Provider, Alert and object; markup in an event is shown as text', async () => {
    await page.goto(`${herald.adminUrl}/console/deliveries.html`);
    const rows = page.locator('#results tr.delivery');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    const table = page.getByRole('table', { name: /deliveries \(dead letters\)/ });
    expect(await table.innerText()).toContain('<b>rejected</b> by the sink');

    const toggle = rows.first().getByRole('button', { name: /^Event of delivery / });
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    const payload = await page.locator('#results tr.detail:not([hidden]) pre').innerText();
    expect(payload).toContain('<img src=x onerror=\\"window.__xss = 1\\">');
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await shot('deliveries');

    const showWith = async (filters: Record<string, string>) => {
      for (const field of ['provider', 'alert', 'object']) await page.getByLabel(field[0]?.toUpperCase() + field.slice(1), { exact: true }).fill(filters[field] ?? '');
      await page.getByLabel('State').selectOption(filters.state ?? 'failed');
      await page.getByRole('button', { name: 'Show' }).click();
      // The click ran the submit handler, which marks the list busy until the answer is shown.
      await page.locator('#results[aria-busy="false"]').waitFor({ state: 'attached' });
      expect(await page.locator('#problem').textContent()).toBe('');
      return page.locator('#results tr.delivery').allInnerTexts();
    };
    const ofOther = await showWith({ provider: 'flux-system/other' });
    expect(ofOther).toHaveLength(1);
    expect(ofOther[0]).toContain('flux-system/to-other');
    expect(page.url()).toContain('provider=flux-system%2Fother');
    expect(await showWith({ alert: 'flux-system/all-kustomizations' })).toHaveLength(1);
    expect(await showWith({ object: 'Kustomization/flux-system/apps' })).toHaveLength(2);
    expect(await showWith({ object: 'Kustomization/flux-system/other-app' })).toHaveLength(0);
    const delayed = await showWith({ state: 'delayed' });
    expect(delayed).toHaveLength(1);
    expect(delayed[0]).toMatch(/flux-system\/slow[\s\S]*1 of 5[\s\S]*provider answered 503: try later[\s\S]*\(in \d+ min\)/);
    // The next attempt shown is the one the API knows.
    const [record] = await deliveriesIn(herald, 'delayed', TOKEN);
    expect(record?.nextAttemptAt).toBeGreaterThan(Date.now());
    expect(await page.locator(`#results time[datetime="${new Date(record?.nextAttemptAt ?? 0).toISOString()}"]`).count()).toBe(1);
  });

  it('retry now: a delayed delivery is tried again at once', async () => {
    await page.goto(`${herald.adminUrl}/console/deliveries.html?state=delayed`);
    const [delayed] = await deliveriesIn(herald, 'delayed', TOKEN);
    await page.getByRole('button', { name: `Retry delivery ${delayed?.id} now` }).click();
    await sink.waitFor(4);
    await until(() => sink.requests.filter((r) => r.url === '/c').length === 2, { what: 'the second try at /c' });
    expect(await page.locator('#status').textContent()).toContain('is due now');
  });

  it('dead letters: replay by clicking (after a confirmation) reaches the sink; purge deletes one; cancel does nothing', async () => {
    await page.goto(`${herald.adminUrl}/console/dead-letters.html`);
    const rows = page.locator('#results tr.delivery');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    await shot('dead-letters');
    const dead = await deliveriesIn(herald, 'failed', TOKEN);
    const toSink = dead.find((d) => d.data.provider === 'flux-system/sink');
    const toOther = dead.find((d) => d.data.provider === 'flux-system/other');

    // Cancel leaves the dead letter alone.
    await page.getByRole('button', { name: `Purge delivery ${toOther?.id}` }).click();
    await answerDialog(page, 'Cancel');
    expect((await deliveriesIn(herald, 'failed', TOKEN)).length).toBe(2);

    acceptA = true;
    const before = sink.requests.filter((r) => r.url === '/a').length;
    const replay = page.getByRole('button', { name: `Replay delivery ${toSink?.id}` });
    await replay.focus();
    // Keyboard alone: Enter on the button, then Tab from Cancel to the action and Enter.
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await until(() => sink.requests.filter((r) => r.url === '/a').length === before + 1, { timeoutMs: 15_000, what: 'the replayed delivery at the sink' });
    const delivered = sink.requests.filter((r) => r.url === '/a').at(-1);
    expect(JSON.parse(delivered?.body ?? '{}').message).toBe(XSS_MESSAGE);
    await until(async () => (await adminApi(herald, TOKEN)<Delivery>(`/deliveries/${toSink?.id}`)).body.state === 'completed', { what: 'the replay completed' });
    expect(await page.locator('#status').textContent()).toContain('replayed');
    // The replayed row is gone from the list: the focus waits on the line that says what happened.
    await until(async () => (await page.evaluate(() => document.activeElement?.id)) === 'status', { what: 'the focus on the status line' });

    await page.getByRole('button', { name: `Purge delivery ${toOther?.id}` }).click();
    await answerDialog(page, 'Purge');
    await until(async () => (await adminApi(herald, TOKEN)(`/deliveries/${toOther?.id}`)).status === 404, { what: 'the purged delivery gone' });
    await until(async () => (await page.locator('#results').innerText()).includes('No dead letters.'), { what: 'the emptied list' });
  });

  it('explain: a pasted event, each Alert with its verdict and reasons', async () => {
    await page.goto(`${herald.adminUrl}/console/explain.html`);
    await page.getByRole('button', { name: 'Insert an example event' }).click();
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    const table = page.locator('#results table');
    await table.waitFor();
    const text = await table.innerText();
    expect(text).toContain('flux-system/to-other');
    expect(text).toMatch(/Matched/);
    await shot('explain');

    await page.getByLabel('Event (JSON)').fill('{"involvedObject": ');
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    await until(async () => (await page.locator('#problem').textContent())?.startsWith('The event is not JSON'), { what: 'the JSON error' });
  });

  it('test a Provider: one notification through the real path, and the answer shown', async () => {
    await page.goto(`${herald.adminUrl}/console/test.html`);
    await page.locator('#provider option[value="flux-system/sink"]').waitFor({ state: 'attached' });
    await page.getByLabel('Provider').selectOption('flux-system/sink');
    await page.getByLabel('Message (optional)').fill('console test <i>ping</i>');
    const before = sink.requests.length;
    await page.getByRole('button', { name: 'Send test notification' }).click();
    await page.locator('dl.result').waitFor();
    expect(await page.locator('dl.result').innerText()).toMatch(/Sent[\s\S]*200/);
    const sent = sink.requests.slice(before).find((r) => r.url === '/a');
    expect(JSON.parse(sent?.body ?? '{}').message).toBe('console test <i>ping</i>');
    await shot('test');
  });
});

/** A page on another site (http://localhost:port, while the console is on 127.0.0.1) that tries to replay a dead letter three ways. */
async function startHostilePage(adminUrl: string, id: string): Promise<{ url: string; server: Server }> {
  const target = `${adminUrl}/deliveries/${encodeURIComponent(id)}/replay`;
  const html = `<!doctype html><title>hostile</title>
<form id="f" method="post" enctype="text/plain" action="${target}" target="sink"><input name='{"a":"' value='"}'></form>
<iframe name="sink"></iframe>
<script>
  window.attempts = [];
  fetch(${JSON.stringify(target)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    .then((r) => attempts.push('json ' + r.status), (e) => attempts.push('json blocked'));
  fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}' })
    .then((r) => attempts.push('no-cors ' + r.type), (e) => attempts.push('no-cors blocked'));
  document.getElementById('f').submit();
</script>`;
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://localhost:${(server.address() as AddressInfo).port}/`, server };
}

describe('web console without a token, and other sites', () => {
  it('works without a prompt when no token is set; a page of another site cannot replay a dead letter, the console can', async () => {
    const context = await theBrowser().newContext();
    const sink = await startSink(() => ({ status: 400, body: 'no' }));
    const herald = await startHerald({
      manifests: { 'p.yaml': webhookProvider({ address: `${sink.url}/a` }), 'a.yaml': kustomizationAlert() },
    });
    context.setDefaultTimeout(10_000);
    let hostile: Server | undefined;
    try {
      expect((await herald.postEvent(kustomizationEvent())).status).toBe(202);
      const [dead] = await until(async () => {
        const list = await deliveriesIn(herald, 'failed');
        return list.length === 1 ? list : undefined;
      }, { what: 'one dead letter' });

      const page = await context.newPage();
      await page.goto(`${herald.adminUrl}/console/dead-letters.html`);
      await page.locator('#results tr.delivery').first().waitFor();
      expect(await page.locator('#token-form').isHidden()).toBe(true);

      sink.respondWith(() => ({ status: 200 }));
      const attacker = await startHostilePage(herald.adminUrl, dead?.id ?? '');
      hostile = attacker.server;
      const evil = await context.newPage();
      await evil.goto(attacker.url);
      await until(async () => ((await evil.evaluate(() => (window as unknown as { attempts: string[] }).attempts.length)) === 2 ? true : undefined), {
        what: 'both fetches settled',
      });
      const attempts = await evil.evaluate(() => (window as unknown as { attempts: string[] }).attempts);
      // The JSON request needs a CORS preflight the API never grants; the others are refused by the listener.
      expect(attempts).toContain('json blocked');
      await until(() => herald.output.filter((line) => line.includes('admin request refused: cross-site requests are refused')).length >= 2, {
        what: 'the refusals logged',
      });
      expect((await deliveriesIn(herald, 'failed')).map((d) => d.id)).toEqual([dead?.id]);
      expect(sink.requests).toHaveLength(1);

      // What the other site could not do, the console's own page does.
      await page.getByRole('button', { name: 'Replay all' }).click();
      await answerDialog(page, 'Replay');
      await sink.waitFor(2);
      await until(async () => (await page.locator('#status').textContent())?.includes('1 replayed'), { what: 'the bulk replay reported' });
    } finally {
      await context.close();
      hostile?.close();
      await herald.stop();
      await herald.cleanup();
      await sink.close();
    }
  }, 60_000);
});
