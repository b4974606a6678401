/**
 * Turns an Alert manifest into the form the matcher uses: sources with their namespace
 * resolved, label selectors checked, and message regexes compiled once per resource version
 * (Flux recompiles every regex for every event).
 */
import { objectKey, type Alert } from '../api/types.js';
import { compileRegex, type CompiledRegex, type RegexCompilation } from './regex.js';

export interface CompiledSource {
  /** `eventSources[i].namespace`, or the Alert's own namespace when unset (Flux's default). */
  namespace: string;
  kind: string;
  /** An object name, or `*` for every object of `kind` in `namespace`. */
  name: string;
  /**
   * The `matchLabels` pairs the involved object's current labels must all carry. Undefined when
   * `matchLabels` is not set; an empty list (set but empty) still needs a successful label
   * look-up, as in Flux, where only a nil map skips the look-up.
   */
  matchLabels?: ReadonlyArray<readonly [key: string, value: string]>;
}

export interface CompiledAlert {
  /** `namespace/name` of the Alert. */
  key: string;
  alert: Alert;
  /** The usable event sources; one with an invalid label selector is left out (it can never match in Flux). */
  sources: readonly CompiledSource[];
  /**
   * Undefined when `inclusionList` is empty (every message is included). Otherwise the valid
   * regexes, one of which must match; an invalid regex matches nothing, so a list of only
   * invalid regexes includes no message at all.
   */
  inclusion: readonly CompiledRegex[] | undefined;
  /** The valid exclusion regexes; an invalid one is ignored (Flux logs it and moves on). */
  exclusion: readonly CompiledRegex[];
  /** One line per invalid field, naming it, for the Alert's status and the logs. */
  problems: string[];
}

export function compileAlert(alert: Alert): CompiledAlert {
  const problems: string[] = [];
  const inclusionList = alert.spec.inclusionList ?? [];
  const inclusion = compileRegexList(inclusionList, 'spec.inclusionList', problems);
  const exclusion = compileRegexList(alert.spec.exclusionList ?? [], 'spec.exclusionList', problems);
  return {
    key: objectKey(alert.metadata),
    alert,
    sources: compileSources(alert, problems),
    inclusion: inclusionList.length === 0 ? undefined : inclusion,
    exclusion,
    problems,
  };
}

/**
 * Compiled regexes by pattern, shared between Alerts: many Alerts repeat the same few patterns,
 * and each compiled one takes about 9 KB of heap (20k Alerts with two each took 350 MB, and the
 * garbage collector's pauses grew with it). A compiled regex holds no state between matches.
 * Bounded: past `REGEX_CACHE_SIZE` patterns the oldest is forgotten (the Alerts using it keep
 * their own reference).
 */
const regexCache = new Map<string, RegexCompilation>();
const REGEX_CACHE_SIZE = 4096;

function compileCached(pattern: string): RegexCompilation {
  const cached = regexCache.get(pattern);
  if (cached) return cached;
  const result = compileRegex(pattern);
  if (regexCache.size >= REGEX_CACHE_SIZE) regexCache.delete(regexCache.keys().next().value as string);
  regexCache.set(pattern, result);
  return result;
}

function compileRegexList(patterns: readonly string[], field: string, problems: string[]): CompiledRegex[] {
  const compiled: CompiledRegex[] = [];
  patterns.forEach((pattern, i) => {
    const result = compileCached(pattern);
    if (result.ok) compiled.push(result.regex);
    else problems.push(`${field}[${i}]: invalid RE2 expression ${JSON.stringify(pattern)}: ${result.error}`);
  });
  return compiled;
}

function compileSources(alert: Alert, problems: string[]): CompiledSource[] {
  const sources: CompiledSource[] = [];
  alert.spec.eventSources.forEach((source, i) => {
    // An empty namespace means "the Alert's namespace"; `*` is taken literally (Flux compares
    // namespaces for equality only).
    const compiled: CompiledSource = {
      namespace: source.namespace ? source.namespace : alert.metadata.namespace,
      kind: source.kind,
      name: source.name,
    };
    if (source.matchLabels != null) {
      const invalid = invalidSelectorPairs(source.matchLabels);
      if (invalid.length > 0) {
        // Flux fails to build the selector and the source matches nothing.
        problems.push(...invalid.map((why) => `spec.eventSources[${i}].matchLabels: ${why}`));
        return;
      }
      compiled.matchLabels = Object.entries(source.matchLabels);
    }
    sources.push(compiled);
  });
  return sources;
}

// Kubernetes label syntax (what metav1.LabelSelectorAsSelector enforces): a key is an optional
// DNS-subdomain prefix and `/`, then a name of at most 63 characters; a value is empty or
// such a name. Lengths are checked before the patterns run.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function invalidSelectorPairs(matchLabels: Record<string, string>): string[] {
  const invalid: string[] = [];
  for (const [key, value] of Object.entries(matchLabels)) {
    if (!isLabelKey(key)) invalid.push(`invalid label key ${JSON.stringify(key)}`);
    if (!isLabelValue(value)) invalid.push(`invalid label value ${JSON.stringify(value)} for key ${JSON.stringify(key)}`);
  }
  return invalid;
}

function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
  return name.length > 0 && name.length <= 63 && LABEL_NAME.test(name);
}

function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && LABEL_NAME.test(value));
}
