/**
 * Per-type verification of a webhook request, as Flux's receiver server does it: which header
 * carries the proof, how it is checked, which header names the event for `spec.events`, and
 * which payload shape a registry must send. Comparisons of secrets are constant-time, and no
 * failure message quotes a header, a signature or a token.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IdTokenVerifier } from './gcr-token.js';
import { IdTokenError } from './id-token.js';
import { verifyOidcToken, type OidcIssuers } from './oidc.js';
import {
  ACR_PAYLOAD, DOCKERHUB_PAYLOAD, GCR_DATA, NEXUS_PAYLOAD, PUBSUB_PUSH, QUAY_PAYLOAD, shapeMismatch, type Shape,
} from './payload-shape.js';
import type { OIDCProvider, ReceiverType } from './types.js';

export interface WebhookRequest {
  /** The first value of a header (case-insensitive name), or '' when absent: Go's `Header.Get`. */
  header(name: string): string;
  body: Buffer;
}

export interface VerifyContext {
  type: ReceiverType;
  /** The Secret's `token`. */
  token: string;
  /** Every key of the Secret, for the types that need more than the token (gcr). */
  secret: Readonly<Record<string, string>>;
  events: readonly string[];
  idTokens: IdTokenVerifier;
  /** generic-oidc: the Receiver's providers, and how their issuers' keys are found. */
  oidcProviders: readonly OIDCProvider[];
  oidcIssuers: OidcIssuers;
  now: number;
}

export type Verdict =
  | {
      ok: true;
      /** The sender's event name, for the log (when the type has one). */
      event?: string;
      /** What `req` is decoded from in CEL filters: the body, or for gcr the event inside the push. */
      payload: Buffer;
      /** generic-oidc: the verified token's claims, which filters read as `claims`. */
      claims?: Record<string, unknown>;
    }
  /** `unauthorized`: the proof is missing or wrong (401); `rejected`: the payload or event is refused (400). */
  | { ok: false; outcome: 'unauthorized' | 'rejected'; reason: string };

const unauthorized = (reason: string): Verdict => ({ ok: false, outcome: 'unauthorized', reason });
const rejected = (reason: string): Verdict => ({ ok: false, outcome: 'rejected', reason });

/** Equal strings, in time that depends on neither's content nor length. */
export function safeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

const HMAC_ALGORITHMS: Readonly<Record<string, { name: string; hexLength: number }>> = {
  sha1: { name: 'sha1', hexLength: 40 },
  sha256: { name: 'sha256', hexLength: 64 },
  sha512: { name: 'sha512', hexLength: 128 },
};

/**
 * A `<sha1|sha256|sha512>=<hex>` signature over `body` with `key` (GitHub's scheme, which
 * Flux uses for github, bitbucket and generic-hmac). Undefined when valid, else why not.
 */
export function checkPrefixedHmac(signature: string, body: Buffer, key: string): string | undefined {
  if (signature === '') return 'the signature header is missing';
  const equals = signature.indexOf('=');
  if (equals < 0) return 'the signature has no <hash>= prefix';
  const algorithm = HMAC_ALGORITHMS[signature.slice(0, equals)];
  if (!algorithm) return 'the signature names an unknown hash (sha1, sha256 and sha512 are accepted)';
  const hex = signature.slice(equals + 1);
  if (hex.length !== algorithm.hexLength || !/^[0-9a-fA-F]*$/.test(hex)) return 'the signature is not a hex digest of the named hash';
  const expected = createHmac(algorithm.name, key).update(body).digest();
  return timingSafeEqual(Buffer.from(hex, 'hex'), expected) ? undefined : 'the signature does not match the payload';
}

/** Whether `event` is one of `events` (case-insensitive); every event passes when none are listed. */
function eventAllowed(event: string, events: readonly string[]): boolean {
  if (events.length === 0) return true;
  const lower = event.toLowerCase();
  return events.some((e) => e.toLowerCase() === lower);
}

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

function checkShape(body: Buffer, shape: Shape, sender: string): Verdict | undefined {
  const parsed = parseJson(body);
  if (!parsed.ok) return rejected(`the ${sender} payload is not JSON`);
  const wrong = shapeMismatch(parsed.value, shape);
  return wrong ? rejected(`the ${sender} payload has the wrong type at ${wrong}`) : undefined;
}

/**
 * GitHub's signed payload (also Gitea's and Bitbucket's): a JSON or form-encoded body, the
 * signature in `X-Hub-Signature-256`, else `X-Hub-Signature`. As go-github does, an empty
 * token skips the signature check and a form body carries the JSON in its `payload` field.
 */
function verifyHubSignature(request: WebhookRequest, token: string, sender: string): { payload: Buffer } | Verdict {
  const type = mediaType(request.header('content-type'));
  let payload: Buffer;
  if (type === 'application/json') payload = request.body;
  else if (type === 'application/x-www-form-urlencoded') {
    payload = Buffer.from(new URLSearchParams(request.body.toString('utf8')).get('payload') ?? '', 'utf8');
  } else return rejected(`the ${sender} request has an unsupported Content-Type`);
  if (token !== '') {
    const signature = request.header('x-hub-signature-256') || request.header('x-hub-signature');
    const wrong = checkPrefixedHmac(signature, request.body, token);
    if (wrong) return unauthorized(`${sender}: ${wrong}`);
  }
  return { payload };
}

/** The CDEvents context and subject the SDK insists on (a structural check of spec v0.4's schema). */
function checkCDEvent(body: Buffer): Verdict | undefined {
  const parsed = parseJson(body);
  if (!parsed.ok) return rejected('the CDEvent is not JSON');
  const event = parsed.value as { context?: Record<string, unknown>; subject?: Record<string, unknown> } | null;
  const context = event?.context;
  const subject = event?.subject;
  if (!context || typeof context !== 'object') return rejected('the CDEvent has no context');
  if (typeof context.type !== 'string' || !/^dev\.cdevents\.[a-z]+\.[a-z]+\.\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(context.type)) {
    return rejected('the CDEvent context.type is not a dev.cdevents.<subject>.<predicate>.<version> type');
  }
  for (const field of ['id', 'source'] as const) {
    if (typeof context[field] !== 'string' || context[field] === '') return rejected(`the CDEvent context.${field} is required`);
  }
  if (typeof context.timestamp !== 'string' || Number.isNaN(Date.parse(context.timestamp))) {
    return rejected('the CDEvent context.timestamp is not a date-time');
  }
  if (!subject || typeof subject !== 'object') return rejected('the CDEvent has no subject');
  if (typeof subject.id !== 'string' || subject.id === '') return rejected('the CDEvent subject.id is required');
  if (subject.content !== undefined && (typeof subject.content !== 'object' || Array.isArray(subject.content))) {
    return rejected('the CDEvent subject.content is not an object');
  }
  return undefined;
}

async function verifyGcr(request: WebhookRequest, context: VerifyContext): Promise<Verdict> {
  const { email, audience } = context.secret;
  if (!email) return rejected("the Secret has no 'email' key, which a gcr Receiver requires");
  if (!audience) return rejected("the Secret has no 'audience' key, which a gcr Receiver requires");
  try {
    await context.idTokens.verify(request.header('authorization'), { email, audience });
  } catch (error) {
    return unauthorized(error instanceof IdTokenError ? `gcr: ${error.message}` : 'gcr: the token could not be checked');
  }
  const parsed = parseJson(request.body);
  if (!parsed.ok || shapeMismatch(parsed.value, PUBSUB_PUSH)) return rejected('the Pub/Sub push payload is not a push message');
  const data = (parsed.value as { message?: { data?: string } } | null)?.message?.data ?? '';
  const inner = parseJson(Buffer.from(data, 'base64'));
  if (!inner.ok || inner.value === null || shapeMismatch(inner.value, GCR_DATA)) return rejected('the message data is not a registry event');
  const { action, digest, tag } = inner.value as Record<string, unknown>;
  // Flux hands the filters only these three fields of the unwrapped event.
  return { ok: true, payload: Buffer.from(JSON.stringify({ action: action ?? '', digest: digest ?? '', tag: tag ?? '' })) };
}

export async function verifyRequest(request: WebhookRequest, context: VerifyContext): Promise<Verdict> {
  const { token, events } = context;
  const accepted = (event?: string): Verdict => ({ ok: true, event, payload: request.body });
  const filtered = (event: string, sender: string): Verdict | undefined =>
    eventAllowed(event, events) ? undefined : rejected(`the ${sender} event is not one of spec.events`);

  switch (context.type) {
    case 'generic':
      return accepted();
    case 'generic-oidc':
      try {
        const claims = await verifyOidcToken(request.header('authorization'), context.oidcProviders, context.oidcIssuers, context.now);
        return { ok: true, payload: request.body, claims };
      } catch (error) {
        return unauthorized(error instanceof IdTokenError ? `generic-oidc: ${error.message}` : 'generic-oidc: the token could not be checked');
      }
    case 'generic-hmac': {
      const wrong = checkPrefixedHmac(request.header('x-signature'), request.body, token);
      return wrong ? unauthorized(`generic-hmac: ${wrong}`) : accepted();
    }
    case 'github':
    case 'bitbucket': {
      const sender = context.type === 'github' ? 'GitHub' : 'Bitbucket';
      const checked = verifyHubSignature(request, token, sender);
      if ('ok' in checked) return checked;
      const event = request.header(context.type === 'github' ? 'x-github-event' : 'x-event-key');
      return filtered(event, sender) ?? { ok: true, event, payload: checked.payload };
    }
    case 'gitlab': {
      if (!safeEqual(request.header('x-gitlab-token'), token)) return unauthorized('gitlab: the X-Gitlab-Token header does not match the token');
      const event = request.header('x-gitlab-event');
      return filtered(event, 'GitLab') ?? accepted(event);
    }
    case 'harbor':
      return safeEqual(request.header('authorization'), token) ? accepted() : unauthorized('harbor: the Authorization header does not match the token');
    case 'dockerhub':
      return checkShape(request.body, DOCKERHUB_PAYLOAD, 'DockerHub') ?? accepted();
    case 'quay':
      return checkShape(request.body, QUAY_PAYLOAD, 'Quay') ?? accepted();
    case 'acr':
      return checkShape(request.body, ACR_PAYLOAD, 'ACR') ?? accepted();
    case 'nexus': {
      const signature = request.header('x-nexus-webhook-signature');
      if (signature === '') return unauthorized('nexus: the X-Nexus-Webhook-Signature header is missing');
      const expected = createHmac('sha1', token).update(request.body).digest('hex');
      if (!safeEqual(signature, expected)) return unauthorized('nexus: the signature does not match the payload');
      return checkShape(request.body, NEXUS_PAYLOAD, 'Nexus') ?? accepted();
    }
    case 'gcr':
      return verifyGcr(request, context);
    case 'cdevents': {
      const wrong = checkCDEvent(request.body);
      if (wrong) return wrong;
      const event = request.header('ce-type');
      return filtered(event, 'CDEvents') ?? accepted(event);
    }
  }
}
