/**
 * Turns manifest text (multi-document YAML, as `kubectl apply -f` takes it) into the objects
 * the resource store holds. It does what the Kubernetes API server would do before Herald's
 * own validation runs: reject documents that are not objects, fields of the wrong type and
 * unsupported API versions, and decode Secrets. A bad document becomes a problem naming the
 * file and document; it never stops the other documents from loading.
 */
import jsYaml from 'js-yaml';
import { LineCounter, isMap, isScalar, parseAllDocuments, type Document, type YAMLError } from 'yaml';
import {
  NOTIFICATION_GROUP,
  groupOf,
  isSecret,
  objectKey,
  type Alert,
  type LabelledObject,
  type ObjectMeta,
  type Provider,
  type ReceiverObject,
  type Secret,
  type StoredObject,
} from '../api/types.js';

export interface ManifestProblem {
  file: string;
  /** 1-based position of the document in the file (documents are separated by `---`). */
  document?: number;
  message: string;
}

export interface ParsedManifests {
  objects: StoredObject[];
  problems: ManifestProblem[];
}

/** Every kind of the notification API; Herald reads all three. */
const NOTIFICATION_KINDS = ['Provider', 'Alert', 'Receiver'];

/** The API versions of Flux's Receiver (v1beta2 is still served by Flux's CRD). */
const RECEIVER_VERSIONS = ['v1', 'v1beta2'];

/** The notification API versions whose Provider and Alert Herald reads (same fields). */
const NOTIFICATION_VERSIONS = ['v1beta3', 'v1beta2'];

export function parseManifests(text: string, file: string): ParsedManifests {
  return parsePlainManifests(text, file) ?? parseAnyManifests(text, file);
}

/**
 * Plain YAML — no tag, anchor, alias or directive, no syntax error — read by `js-yaml`, about
 * ten times faster than `yaml` (10,000 Alerts: 0.2 s instead of 2 s), with the scalars `yaml`
 * resolves them to (YAML 1.2's core schema). Undefined for anything else, which
 * `parseAnyManifests` reads: without `!` there can be no tag, without `&` no anchor (and an
 * alias without an anchor, like a duplicate key or any syntax error, makes `js-yaml` throw).
 */
export function parsePlainManifests(text: string, file: string): ParsedManifests | undefined {
  if (/[!&]|^%/m.test(text)) return undefined;
  let documents: unknown[];
  try {
    documents = jsYaml.loadAll(text, undefined, { schema: YAML_1_2_CORE });
  } catch {
    return undefined;
  }
  const parsed: ParsedManifests = { objects: [], problems: [] };
  documents.forEach((raw, i) => collect(raw, i + 1, file, parsed));
  return parsed;
}

/** The implicit scalars of YAML 1.2's core schema, exactly as `yaml` resolves them (yaml/dist/schema/core). */
const YAML_1_2_CORE = jsYaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    new jsYaml.Type('tag:yaml.org,2002:null', { kind: 'scalar', resolve: (s: string) => /^(?:~|[Nn]ull|NULL)?$/.test(s), construct: () => null }),
    new jsYaml.Type('tag:yaml.org,2002:bool', {
      kind: 'scalar',
      resolve: (s: string) => /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(s),
      construct: (s: string) => s[0] === 't' || s[0] === 'T',
    }),
    new jsYaml.Type('tag:yaml.org,2002:int', {
      kind: 'scalar',
      resolve: (s: string) => /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/.test(s),
      construct: (s: string) => (s.startsWith('0o') ? parseInt(s.slice(2), 8) : s.startsWith('0x') ? parseInt(s.slice(2), 16) : parseInt(s, 10)),
    }),
    new jsYaml.Type('tag:yaml.org,2002:float', {
      kind: 'scalar',
      resolve: (s: string) =>
        /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(s) ||
        /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(s) ||
        /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(s),
      construct: (s: string) =>
        s.slice(-3).toLowerCase() === 'nan' ? NaN : /inf$/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : parseFloat(s),
    }),
  ],
});

/** Any YAML, with `yaml`: tags, anchors and aliases checked, errors reported by code and position. */
export function parseAnyManifests(text: string, file: string): ParsedManifests {
  const parsed: ParsedManifests = { objects: [], problems: [] };
  const { problems } = parsed;
  const lineCounter = new LineCounter();
  // prettyErrors would quote the offending source line, which may be a Secret's value.
  const documents = parseAllDocuments(text, { prettyErrors: false, lineCounter });
  documents.forEach((doc, i) => {
    const document = i + 1;
    // An unresolved tag is only a warning to yaml, which then loads `token: !TAG` as an empty
    // string: a value silently changed is refused like a syntax error.
    const [error] = [...doc.errors, ...doc.warnings.filter((warning) => warning.code === 'TAG_RESOLVE_FAILED')];
    if (error) {
      problems.push({ file, document, message: yamlProblem(error, lineCounter) });
      return;
    }
    let raw: unknown;
    try {
      raw = doc.toJS();
    } catch {
      // An alias with no anchor, or one expanding past yaml's maxAliasCount (a "billion
      // laughs" document). yaml's message names the alias, which may be a Secret's value.
      problems.push({ file, document, message: 'invalid YAML (ALIAS): an alias has no anchor, or expands too far' });
      return;
    }
    collect(raw, document, file, parsed, (path) => nonPlainSecretValues(doc, path));
  });
  return parsed;
}

/**
 * Adds one decoded document's objects (each item of a `List`) to `into`, or its problems.
 * `nonPlain` names the Secret values at `path` that are not plain strings in the source.
 */
function collect(
  raw: unknown,
  document: number,
  file: string,
  into: ParsedManifests,
  nonPlain: (path: ReadonlyArray<string | number>) => string[] = () => [],
): void {
  if (raw === null || raw === undefined) return; // an empty document, e.g. after a trailing `---`
  const listItems = isList(raw) ? raw.items : undefined;
  (listItems ?? [raw]).forEach((item, j) => {
    const path = listItems ? ['items', j] : [];
    const result = toStoredObject(item);
    if ('error' in result) {
      into.problems.push({ file, document, message: result.error });
      if (result.unusable) into.objects.push(result.unusable);
    } else {
      const found = isSecret(result.object) ? nonPlain(path) : [];
      if (found.length > 0) into.problems.push({ file, document, message: `${result.object.kind} ${objectKey(result.object.metadata)}: ${found.join('; ')}` });
      else into.objects.push(result.object);
    }
  });
}

/**
 * A YAML error by its code and position only. yaml's messages quote the source (`The !<tag>
 * tag has no suffix`, `Invalid escape sequence \<char>`, `Unresolved alias …: <name>`), and the
 * source can be a Secret's value.
 */
function yamlProblem(error: YAMLError, lineCounter: LineCounter): string {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  return `invalid YAML at line ${line}, column ${col}: ${error.code}`;
}

/**
 * The keys of a Secret's `data` and `stringData` whose value is not a plain string in the
 * source: a tag (even an unknown one that yaml loads as an empty string), an alias (the value
 * would be whatever the anchor holds), a map or a list. Only the key is named, never the value.
 */
function nonPlainSecretValues(doc: Document.Parsed, path: ReadonlyArray<string | number>): string[] {
  const found: string[] = [];
  for (const field of ['data', 'stringData']) {
    const map = doc.getIn([...path, field], true);
    if (!isMap(map)) continue;
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      const value = pair.value;
      const plain = value === null || (isScalar(value) && (value.tag === undefined || value.tag === STR_TAG));
      if (!plain) found.push(`${field}.${key} must be a plain string (no tag, alias, map or list)`);
    }
  }
  return found;
}

const STR_TAG = 'tag:yaml.org,2002:str';

/** `kind: List` (what `kubectl get -o yaml` prints) holds its objects in `items`. */
function isList(raw: unknown): raw is { items: unknown[] } {
  return isRecord(raw) && raw.kind === 'List' && Array.isArray(raw.items);
}

/**
 * Checks one decoded object and converts it to the store's form; also the entry point for
 * objects that arrive from the Kubernetes API (Secret `data` is base64 there too).
 */
export type StoredResult =
  | { object: StoredObject }
  /** `unusable`: the object the error is about, stored all the same so references to it can say why (a Secret). */
  | { error: string; unusable?: Secret };

export function toStoredObject(raw: unknown): StoredResult {
  if (!isRecord(raw)) return { error: 'document is not a YAML mapping' };
  const { apiVersion, kind } = raw;
  if (typeof apiVersion !== 'string' || apiVersion === '' || typeof kind !== 'string' || kind === '') {
    return { error: 'apiVersion and kind are required strings' };
  }
  const meta = toObjectMeta(raw.metadata);
  if (typeof meta === 'string') return { error: `${kind}: ${meta}` };
  const what = `${kind} ${objectKey(meta)}`;

  if (groupOf(apiVersion) === NOTIFICATION_GROUP && (kind === 'Provider' || kind === 'Alert')) {
    const version = apiVersion.slice(NOTIFICATION_GROUP.length + 1);
    if (!NOTIFICATION_VERSIONS.includes(version)) {
      return { error: `${what}: apiVersion ${apiVersion} is not supported; use ${NOTIFICATION_GROUP}/v1beta3 (v1beta2 is accepted too)` };
    }
    const spec = withoutNulls(raw.spec ?? {});
    const specShape = kind === 'Provider' ? providerSpecShape : alertSpecShape;
    const wrong = shapeErrors(spec, specShape, 'spec');
    if (wrong.length > 0) return { error: `${what}: ${wrong.join('; ')}` };
    const object = { apiVersion, kind, metadata: meta, spec } as Provider | Alert;
    return { object: withUnknownFieldWarnings(object, raw, spec, specShape) };
  }
  if (groupOf(apiVersion) === NOTIFICATION_GROUP && kind === 'Receiver') {
    // Kept whole: the receivers module validates the spec and reports in the Receiver's status.
    if (!RECEIVER_VERSIONS.includes(apiVersion.slice(NOTIFICATION_GROUP.length + 1))) {
      return { error: `${what}: apiVersion ${apiVersion} is not supported; use ${NOTIFICATION_GROUP}/v1 (v1beta2 is accepted too)` };
    }
    const spec = withoutNulls(raw.spec);
    const receiver: ReceiverObject = { apiVersion, kind, metadata: meta, spec };
    return { object: withUnknownFieldWarnings(receiver, raw, spec, receiverSpecShape) };
  }
  if (groupOf(apiVersion) === NOTIFICATION_GROUP && !NOTIFICATION_KINDS.includes(kind)) {
    // The API server would refuse it ("no matches for kind"); a typo must not vanish silently.
    return { error: `${what}: kind ${kind} is not a kind of ${NOTIFICATION_GROUP} (${NOTIFICATION_KINDS.join(', ')})` };
  }
  if (apiVersion === 'v1' && kind === 'Secret') {
    const wrong = [...shapeErrors(raw.data, 'stringMap', 'data'), ...shapeErrors(raw.stringData, 'stringMap', 'stringData')];
    if (wrong.length > 0) return { error: `${what}: ${wrong.join('; ')}` };
    const data = decodeSecretData(raw as { data?: Record<string, string>; stringData?: Record<string, string> });
    if (typeof data === 'string') return { error: `${what}: ${data}`, unusable: { apiVersion, kind, metadata: meta, data: {}, invalid: data } };
    const secret: Secret = { apiVersion, kind, metadata: meta, data };
    return { object: secret };
  }
  const specKept = keptSpecVersions(apiVersion, kind);
  if (specKept) {
    if (!specKept.includes(apiVersion)) return { error: `${what}: apiVersion ${apiVersion} is not supported; use ${specKept.join(' or ')}` };
    if (raw.spec !== undefined && raw.spec !== null && !isRecord(raw.spec)) return { error: `${what}: spec must be a mapping` };
    // Only the shape is checked here: the image controller validates the spec, and shows what is wrong in its status.
    const kept: LabelledObject = { apiVersion, kind, metadata: meta, spec: withoutNulls(raw.spec ?? {}) };
    return { object: kept };
  }
  // Anything else is kept for its labels only (matchLabels look-ups); its spec is dropped.
  const labelled: LabelledObject = { apiVersion, kind, metadata: meta };
  return { object: labelled };
}

/** The image automation kinds (and the GitRepository they push to) and the API versions Herald reads them in. */
const SPEC_KEPT: Record<string, string[]> = {
  'image.toolkit.fluxcd.io|ImageRepository': ['image.toolkit.fluxcd.io/v1', 'image.toolkit.fluxcd.io/v1beta2'],
  'image.toolkit.fluxcd.io|ImagePolicy': ['image.toolkit.fluxcd.io/v1', 'image.toolkit.fluxcd.io/v1beta2'],
  'image.toolkit.fluxcd.io|ImageUpdateAutomation': ['image.toolkit.fluxcd.io/v1', 'image.toolkit.fluxcd.io/v1beta2'],
  'source.toolkit.fluxcd.io|GitRepository': ['source.toolkit.fluxcd.io/v1'],
};

/** The versions accepted for a kind whose spec is kept, or undefined for any other kind. */
function keptSpecVersions(apiVersion: string, kind: string): string[] | undefined {
  return SPEC_KEPT[`${groupOf(apiVersion)}|${kind}`];
}

function toObjectMeta(raw: unknown): ObjectMeta | string {
  if (!isRecord(raw)) return 'metadata is required';
  const wrong = shapeErrors(raw, metadataShape, 'metadata');
  if (wrong.length > 0) return wrong.join('; ');
  if (typeof raw.name !== 'string' || raw.name === '') return 'metadata.name is required';
  const meta: ObjectMeta = {
    name: raw.name,
    namespace: typeof raw.namespace === 'string' && raw.namespace !== '' ? raw.namespace : 'default',
  };
  // Only what Herald reads: an informer's objects carry managedFields and more.
  for (const field of ['uid', 'resourceVersion', 'generation', 'labels', 'annotations'] as const) {
    if (raw[field] != null) Object.assign(meta, { [field]: raw[field] });
  }
  return meta;
}

/** `data` is base64; `stringData` is plain text and wins over `data`, as in Kubernetes. Returns what is wrong, naming the key only. */
function decodeSecretData(raw: { data?: Record<string, string>; stringData?: Record<string, string> }): Record<string, string> | string {
  // Null prototype: a key named `__proto__` is a key like any other.
  const decoded: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(raw.data ?? {})) {
    const base64 = value.replace(/\s+/g, '');
    if (!BASE64.test(base64)) return `data.${key} is not valid base64`;
    decoded[key] = Buffer.from(base64, 'base64').toString('utf8');
  }
  return { ...decoded, ...(raw.stringData ?? {}) };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// The field types of the CRDs' OpenAPI schemas. Only types are checked here; required fields,
// enums and patterns are Herald's validation, so that they show in the resource's status.
type Shape = 'string' | 'boolean' | 'integer' | 'stringMap' | { fields: Record<string, Shape> } | { items: Shape };

const localRef: Shape = { fields: { name: 'string' } };

const metadataShape: Shape = {
  fields: {
    name: 'string',
    namespace: 'string',
    uid: 'string',
    resourceVersion: 'string',
    generation: 'integer',
    labels: 'stringMap',
    annotations: 'stringMap',
  },
};

const providerSpecShape: Shape = {
  fields: {
    type: 'string',
    interval: 'string',
    channel: 'string',
    username: 'string',
    address: 'string',
    timeout: 'string',
    proxy: 'string',
    secretRef: localRef,
    certSecretRef: localRef,
    proxySecretRef: localRef,
    serviceAccountName: 'string',
    commitStatusExpr: 'string',
    suspend: 'boolean',
  },
};

const alertSpecShape: Shape = {
  fields: {
    providerRef: localRef,
    eventSeverity: 'string',
    eventSources: {
      items: {
        fields: { apiVersion: 'string', kind: 'string', name: 'string', namespace: 'string', matchLabels: 'stringMap' },
      },
    },
    inclusionList: { items: 'string' },
    exclusionList: { items: 'string' },
    eventMetadata: 'stringMap',
    summary: 'string',
    suspend: 'boolean',
  },
};

/** Flux's Receiver spec (v1), for unknown-field warnings only: the receivers module checks types and values. */
const receiverSpecShape: Shape = {
  fields: {
    type: 'string',
    interval: 'string',
    events: { items: 'string' },
    resources: {
      items: { fields: { apiVersion: 'string', kind: 'string', name: 'string', namespace: 'string', matchLabels: 'stringMap' } },
    },
    resourceFilter: 'string',
    secretRef: localRef,
    // Their fields are the OIDC module's to check.
    oidcProviders: { items: 'stringMap' },
    suspend: 'boolean',
  },
};

/** The object, with `warnings` naming the manifest's fields Herald does not know (at most MAX_WARNINGS, then a count). */
function withUnknownFieldWarnings<T extends Provider | Alert | ReceiverObject>(object: T, raw: Record<string, unknown>, spec: unknown, specShape: Shape): T {
  const unknown = [...unknownFields(raw, topLevelShape, ''), ...unknownFields(spec, specShape, 'spec')];
  if (unknown.length === 0) return object;
  const warnings = unknown.slice(0, MAX_WARNINGS).map(unknownFieldWarning);
  if (unknown.length > MAX_WARNINGS) warnings.push(`${unknown.length - MAX_WARNINGS} more unknown fields`);
  return { ...object, warnings };
}

/** The top-level fields of a Provider, Alert or Receiver; `metadata` is the API server's, and `status` Herald's own. */
const topLevelShape: Shape = {
  fields: { apiVersion: 'string', kind: 'string', metadata: 'stringMap', spec: 'stringMap', status: 'stringMap' },
};

/** Unknown fields listed per resource: a manifest with thousands of them needs no more to be fixed. */
const MAX_WARNINGS = 20;

/** An unknown field, for the warning: where it is, and what was probably meant. */
interface UnknownField {
  path: string;
  /** The known field of the same name in another case (`exclusionList` for `exclusionlist`). */
  meant?: string;
}

/**
 * Fields of `value` that `shape` does not know, at every depth of its mappings and lists (not
 * inside string maps, whose keys are free). Kubernetes prunes them (and `kubectl` warns);
 * Herald ignores them too, and says so, so that a typo in a key is not silence.
 */
function unknownFields(value: unknown, shape: Shape, path: string, found: UnknownField[] = []): UnknownField[] {
  // Loops into one list, not lists per field joined: this runs for every field of 10,000 Alerts.
  if (typeof shape === 'string') return found;
  if ('items' in shape) {
    if (Array.isArray(value)) value.forEach((item, i) => unknownFields(item, shape.items, `${path}[${i}]`, found));
    return found;
  }
  if (!isRecord(value)) return found;
  for (const field of Object.keys(value)) {
    const fieldShape = shape.fields[field];
    const at = path ? `${path}.${field}` : field;
    if (fieldShape !== undefined && Object.prototype.hasOwnProperty.call(shape.fields, field)) {
      unknownFields(value[field], fieldShape, at, found);
      continue;
    }
    const meant = Object.keys(shape.fields).find((k) => k.toLowerCase() === field.toLowerCase());
    found.push({ path: at, ...(meant ? { meant: path ? `${path}.${meant}` : meant } : {}) });
  }
  return found;
}

function unknownFieldWarning({ path, meant }: UnknownField): string {
  // The field name comes from the manifest: cut, in case it is long.
  const name = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  return `unknown field ${name} is ignored${meant ? ` (did you mean ${meant}?)` : ''}`;
}

/**
 * Type errors of `value` against `shape`, each naming its field. Absent fields are fine, and
 * so is `null` (`labels:` with nothing after it), which Kubernetes also reads as absent.
 */
function shapeErrors(value: unknown, shape: Shape, path: string, errors: string[] = []): string[] {
  // As unknownFields: one list, and a field's path is only spelt out when the field is there.
  if (value === undefined || value === null) return errors;
  switch (shape) {
    case 'string':
    case 'boolean':
      if (typeof value !== shape) errors.push(`${path} must be a ${shape}`);
      return errors;
    case 'integer':
      if (!Number.isInteger(value)) errors.push(`${path} must be an integer`);
      return errors;
    case 'stringMap':
      if (!isRecord(value)) errors.push(`${path} must be a map of strings`);
      else for (const key of Object.keys(value)) if (typeof value[key] !== 'string') errors.push(`${path}.${key} must be a string (quote it)`);
      return errors;
  }
  if ('items' in shape) {
    if (!Array.isArray(value)) errors.push(`${path} must be a list`);
    else value.forEach((item, i) => shapeErrors(item, shape.items, `${path}[${i}]`, errors));
    return errors;
  }
  if (!isRecord(value)) {
    errors.push(`${path} must be a mapping`);
    return errors;
  }
  for (const [field, fieldShape] of Object.entries(shape.fields)) {
    const fieldValue = value[field];
    if (fieldValue !== undefined && fieldValue !== null) shapeErrors(fieldValue, fieldShape, `${path}.${field}`, errors);
  }
  return errors;
}

/** Drops `null` fields at every depth, as the API server prunes them from non-nullable fields. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
