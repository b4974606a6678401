/**
 * `spec.image` → registry and repository, the way go-containerregistry's `name` package reads
 * it for Flux: the first path segment is a registry when it is `localhost` or has a `.` or a
 * `:`; otherwise the image is on Docker Hub (`index.docker.io`, with `library/` for a single
 * segment). Flux refuses a scheme and a tag in `spec.image` with its own messages.
 */
import { isIP } from 'node:net';

export const DOCKER_HUB_REGISTRY = 'index.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

export interface ImageReference {
  /** `host[:port]`, with Docker Hub spelled `index.docker.io`. */
  registry: string;
  /** Path inside the registry, e.g. `library/alpine`. */
  repository: string;
  /** `<registry>/<repository>`: the ImageRepository's `status.canonicalImageName`. */
  canonical: string;
  /** `https`, or `http` when `insecure` is set. */
  scheme: 'http' | 'https';
  /**
   * A registry on loopback or a private address without `insecure`: go-containerregistry tries
   * https and falls back to http there.
   */
  httpFallback: boolean;
}

const REPOSITORY_CHARS = /^[a-z0-9_\-./]+$/;

export class ImageReferenceError extends Error {
  override readonly name = 'ImageReferenceError';
}

/** Parses `spec.image`; throws an `ImageReferenceError` whose message is Flux's. */
export function parseImageReference(image: string, insecure = false): ImageReference {
  const schemeParts = image.split('://');
  if (schemeParts.length > 1) {
    throw new ImageReferenceError(`image '${image}' should not include URL scheme; remove '${schemeParts[0] ?? ''}://'`);
  }
  // A digest reference is split off before the registry as go-containerregistry does.
  const withoutDigest = image.split('@')[0] ?? '';
  const slash = withoutDigest.indexOf('/');
  const first = slash < 0 ? '' : withoutDigest.slice(0, slash);
  const hasRegistry = slash >= 0 && (first === 'localhost' || first.includes('.') || first.includes(':'));
  let registry = hasRegistry ? first : DOCKER_HUB_REGISTRY;
  if (DOCKER_HUB_ALIASES.has(registry)) registry = DOCKER_HUB_REGISTRY;
  // Flux looks for a tag in what follows the registry as go-containerregistry spells it.
  const afterRegistry = image.startsWith(registry) ? image.slice(registry.length) : image;
  const tagParts = afterRegistry.split(':');
  if (tagParts.length > 1) {
    throw new ImageReferenceError(`image '${image}' should not include a tag; remove ':${tagParts[1] ?? ''}'`);
  }
  let repository = hasRegistry ? withoutDigest.slice(slash + 1) : withoutDigest;
  if (registry === DOCKER_HUB_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;
  if (repository === '' || repository.endsWith('/') || !REPOSITORY_CHARS.test(repository) || repository.length > 255) {
    throw new ImageReferenceError(
      `could not parse reference: ${image}: repository can only contain the characters 'abcdefghijklmnopqrstuvwxyz0123456789_-./'`,
    );
  }
  const local = isLocalRegistry(registry);
  return {
    registry,
    repository,
    canonical: `${registry}/${repository}`,
    scheme: insecure ? 'http' : 'https',
    httpFallback: !insecure && local,
  };
}

/** `localhost[:port]`, `*.localhost`, loopback or RFC 1918 addresses. */
function isLocalRegistry(registry: string): boolean {
  const host = hostOf(registry);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '::1') return true;
  if (isIP(host) !== 4) return false;
  const [a, b] = host.split('.').map(Number);
  return a === 127 || a === 10 || (a === 172 && b !== undefined && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

/** The host of `host[:port]` or `[v6]:port`, without brackets. */
export function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon < 0 ? registry : registry.slice(0, colon);
}

/** Whether a `auths` key of a docker config names this registry (`https://index.docker.io/v1/`, `docker.io`, `host:5000`, …). */
export function authKeyMatches(key: string, registry: string): boolean {
  let host = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  host = host.toLowerCase();
  const wanted = registry.toLowerCase();
  if (wanted === DOCKER_HUB_REGISTRY) return DOCKER_HUB_ALIASES.has(host);
  return host === wanted;
}
