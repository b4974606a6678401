import { describe, expect, it } from 'vitest';
import { compileFilter, receiverReadiness, validateReceiver } from '../../src/receivers/index.js';
import { TOKEN, gitRepository, receiverHarness, receiverManifest } from '../support/receivers.js';

const GAR_EVENT = { action: 'INSERT', digest: 'us-east1-docker.pkg.dev/my-project/my-repo/hello-world@sha256:6ec128e26cd5', tag: 'us-east1-docker.pkg.dev/my-project/my-repo/hello-world:1.1' };
const res = (name: string, annotations?: Record<string, string>) => ({ apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name, namespace: 'apps', ...(annotations && { annotations }) } });

describe('CEL resource filters', () => {
  it("evaluates the examples of Flux's docs", () => {
    const contains = compileFilter('req.tag.contains(res.metadata.name)');
    const split = compileFilter(`has(res.metadata.annotations) && req.tag.split('/').last().value().split(":").first().value() == res.metadata.annotations['update-image']`);
    if (!contains.ok || !split.ok) throw new Error('does not compile');
    expect(contains.filter({ res: res('hello-world'), req: GAR_EVENT })).toBe(true);
    expect(contains.filter({ res: res('other'), req: GAR_EVENT })).toBe(false);
    expect(split.filter({ res: res('x', { 'update-image': 'hello-world' }), req: GAR_EVENT })).toBe(true);
    expect(split.filter({ res: res('x', { 'update-image': 'other' }), req: GAR_EVENT })).toBe(false);
    expect(split.filter({ res: res('x'), req: GAR_EVENT })).toBe(false);
  });

  it('refuses an expression that does not parse, names an unknown variable, or cannot return a bool', () => {
    for (const expression of ['req.tag.contains(', 'claims.sub == "x"', '"a string"', '1 + 2']) {
      expect(compileFilter(expression).ok, expression).toBe(false);
    }
  });

  it('makes the Receiver not Ready with InvalidCELExpression naming spec.resourceFilter', () => {
    const { receiver, findings } = validateReceiver(receiverManifest('generic', { resourceFilter: 'res.metadata.name ==' }));
    const { ready, webhookPath } = receiverReadiness(receiver!, findings, { token: TOKEN });
    expect(ready.status).toBe('False');
    expect(ready.reason).toBe('InvalidCELExpression');
    expect(ready.message).toMatch(/^Reconciliation failed terminally due to configuration error: invalid spec\.resourceFilter expression: /);
    expect(webhookPath).toBe('');
  });

  it('names the resource entry whose filter does not compile', () => {
    const { findings } = validateReceiver(receiverManifest('generic', {
      resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'webapp', filter: '"x"' }],
    }));
    expect(findings).toEqual([{
      reason: 'InvalidCELExpression',
      message: 'Reconciliation failed terminally due to configuration error: invalid filter expression for spec.resources[0] (kind="GitRepository", name="webapp"): the expression must return a bool, not string',
    }]);
  });

  it('reconciles only the objects the filter accepts (match and no match), reading req from a JSON body', async () => {
    const h = receiverHarness({
      manifest: receiverManifest('generic', {
        resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: '*', matchLabels: { team: 'web' } }],
        resourceFilter: 'res.metadata.name == req.repository',
      }),
      objects: [gitRepository('webapp', 'apps', { team: 'web' }), gitRepository('website', 'apps', { team: 'web' })],
    });
    const send = (body: unknown) => h.send({ payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect((await send({ repository: 'website' })).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['GitRepository/apps/website']);
    expect((await send({ repository: 'nothing-matches' })).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['GitRepository/apps/website']);
  });

  it('stacks the per-resource filter on spec.resourceFilter', async () => {
    const h = receiverHarness({
      manifest: receiverManifest('generic', {
        resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: '*', matchLabels: { team: 'web' }, filter: "res.metadata.labels['env'] == 'production'" }],
        resourceFilter: "res.metadata.name.startsWith('web')",
      }),
      objects: [
        gitRepository('webapp', 'apps', { team: 'web', env: 'production' }),
        gitRepository('webapp-staging', 'apps', { team: 'web', env: 'staging' }),
        gitRepository('blog', 'apps', { team: 'web', env: 'production' }),
      ],
    });
    expect((await h.send({ payload: '{}', headers: { 'content-type': 'application/json' } })).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp']);
  });

  it('answers 500, as Flux does, when a filtered Receiver gets a JSON content type with a body that is not a JSON object', async () => {
    const h = receiverHarness({ manifest: receiverManifest('generic', { resourceFilter: 'true' }) });
    expect((await h.send({ payload: '{not json', headers: { 'content-type': 'application/json' } })).statusCode).toBe(500);
    expect(h.reconciled).toEqual([]);
  });

  it('gives req as an empty map when the body is not JSON, and an evaluation error is a 500', async () => {
    const h = receiverHarness({ manifest: receiverManifest('generic', { resourceFilter: 'req.missing == "x"' }) });
    expect((await h.send({ payload: 'plain', headers: { 'content-type': 'text/plain' } })).statusCode).toBe(500);
    const ok = receiverHarness({ manifest: receiverManifest('generic', { resourceFilter: 'size(req) == 0' }) });
    expect((await ok.send({ payload: 'plain', headers: { 'content-type': 'text/plain' } })).statusCode).toBe(200);
    expect(ok.reconciled).toHaveLength(1);
  });
});
