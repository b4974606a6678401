/**
 * A receiver server over in-memory Receivers and objects, with a fake `requestReconcile` that
 * records what it was asked to reconcile. Receivers go through the same validation and
 * readiness as the store will put them through.
 */
import { generateKeyPairSync, sign, type JsonWebKey } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { buildReceiverServer } from '../../src/server/receivers.js';
import type { ListenerLimits } from '../../src/server/base.js';
import {
  memoryTargetResolver, receiverReadiness, staticSigningKeys, googleIdTokenVerifier, validateReceiver, webhookPath,
  type ReceiverEntry, type ReceiverLimits, type RequestReconcile, type TargetObject, type TargetResolver,
} from '../../src/receivers/index.js';
import type { IdTokenVerifier } from '../../src/receivers/gcr-token.js';
import type { OidcIssuers } from '../../src/receivers/oidc.js';

export const TOKEN = 'b3c0a5f1e2d94c7a8e6f0d1c2b3a4958';

export function receiverManifest(type: string, spec: Record<string, unknown> = {}, name = 'webapp-receiver', namespace = 'apps') {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { name, namespace, generation: 1 },
    spec: {
      type,
      secretRef: { name: 'webhook-token' },
      resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'webapp' }],
      ...spec,
    },
  };
}

export function gitRepository(name: string, namespace = 'apps', labels?: Record<string, string>, annotations?: Record<string, string>): TargetObject {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace, ...(labels && { labels }), ...(annotations && { annotations }) },
  };
}

export interface HarnessOptions {
  manifest: unknown;
  secret?: Record<string, string>;
  objects?: TargetObject[];
  noCrossNamespaceRefs?: boolean;
  limits?: Partial<ReceiverLimits>;
  listener?: ListenerLimits;
  idTokens?: IdTokenVerifier;
  oidcIssuers?: OidcIssuers;
  now?: () => number;
  failReconcile?: boolean;
  /** The Kubernetes side instead of the in-memory objects and the recording fake. */
  backend?: { targets: TargetResolver; requestReconcile: RequestReconcile };
}

export interface Harness {
  app: FastifyInstance;
  path: string;
  metrics: Metrics;
  registry: Metrics['registry'];
  /** `kind/namespace/name` of every object a reconcile was requested for, in order. */
  reconciled: string[];
  /** The log lines, as JSON text. */
  logs: string[];
  send(options: Omit<InjectOptions, 'url'> & { url?: string }): Promise<LightMyRequestResponse>;
}

export function receiverHarness(options: HarnessOptions): Harness {
  const validation = validateReceiver(options.manifest);
  if (!validation.receiver) throw new Error(`unusable manifest: ${JSON.stringify(validation.findings)}`);
  const { receiver } = validation;
  const secret = options.secret ?? { token: TOKEN };
  // As a store would after a configuration error: the path the Receiver had when it was Ready.
  const previousPath = webhookPath(receiver.spec.secretRef ? (secret.token ?? '') : '', receiver.metadata.name, receiver.metadata.namespace);
  const readiness = receiverReadiness(receiver, validation.findings, secret, { webhookPath: previousPath });
  const entry: ReceiverEntry = { receiver, ready: readiness.ready.status === 'True', secret: readiness.secret ?? {} };
  const path = readiness.webhookPath;
  const reconciled: string[] = [];
  const logs: string[] = [];
  const metrics = new Metrics({ processMetrics: false });
  const app = buildReceiverServer({
    receivers: { byWebhookPath: (p) => (p === path && path !== '' ? entry : undefined) },
    targets: options.backend?.targets ?? memoryTargetResolver(() => options.objects ?? [gitRepository('webapp')]),
    requestReconcile: async (receiver, targets) => {
      if (options.failReconcile) throw new Error('the API server answered 500');
      await options.backend?.requestReconcile(receiver, targets);
      for (const t of targets) reconciled.push(`${t.kind}/${t.metadata.namespace}/${t.metadata.name}`);
    },
    logger: createLogger('debug', { write: (line: string) => logs.push(line) } as unknown as NodeJS.WritableStream),
    metrics,
    noCrossNamespaceRefs: options.noCrossNamespaceRefs,
    limits: options.limits,
    listener: options.listener,
    idTokens: options.idTokens ?? { verify: async () => { throw new Error('no gcr in this test'); } },
    oidcIssuers: options.oidcIssuers ?? { issuer: async () => { throw new Error('no generic-oidc in this test'); } },
    now: options.now,
  });
  return {
    app,
    path,
    metrics,
    registry: metrics.registry,
    reconciled,
    logs,
    send: async (opts) => app.inject({ method: 'POST', url: path, ...opts } as InjectOptions),
  };
}

/** An RSA key pair as a JWKS and a signer of RS256 JWTs: a stand-in for Google's token issuer. */
export function testIssuer(kid = 'test-key-1') {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as JsonWebKey), kid, alg: 'RS256', use: 'sig' };
  const jwt = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => {
    const encode = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const signingInput = `${encode({ alg: 'RS256', typ: 'JWT', kid, ...header })}.${encode(claims)}`;
    return `${signingInput}.${sign('RSA-SHA256', Buffer.from(signingInput), privateKey).toString('base64url')}`;
  };
  return { jwks: { keys: [jwk] }, jwt, verifier: (now?: () => number) => googleIdTokenVerifier(staticSigningKeys({ keys: [jwk] }), now) };
}

/** A Receiver of `type` for the ImageRepository apps/webapp (apiVersion left to Flux's default), and that object. */
export function imageReceiver(type: string) {
  const image: TargetObject = { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name: 'webapp', namespace: 'apps' } };
  return receiverHarness({ manifest: receiverManifest(type, { resources: [{ kind: 'ImageRepository', name: 'webapp' }] }), objects: [image] });
}

export const JSON_CONTENT = { 'content-type': 'application/json' };
