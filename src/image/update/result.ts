/**
 * What an update changed — files → objects → changes, as Flux's `update.Result` — and the
 * data a commit message template sees, shaped exactly like Flux's `TemplateData`.
 */
import { GoMap, GoStruct } from './template/index.js';

/** The enclosing document's identity; fields are empty when the document lacks them. */
export interface ObjectIdentifier {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

export interface Change {
  oldValue: string;
  newValue: string;
  /** The marker's value, e.g. `flux-system:podinfo:tag`. */
  setter: string;
}

export interface ObjectChanges {
  object: ObjectIdentifier;
  changes: Change[];
}

export interface FileChanges {
  /** Relative to the update path, `/`-separated, e.g. `apps/dev/deploy.yaml`. */
  file: string;
  objects: ObjectChanges[];
}

export interface UpdateResult {
  /** Only files with at least one change, sorted by path. */
  files: FileChanges[];
}

export function isEmptyResult(result: UpdateResult): boolean {
  return result.files.length === 0;
}

function sameObject(a: ObjectIdentifier, b: ObjectIdentifier): boolean {
  return a.apiVersion === b.apiVersion && a.kind === b.kind && a.name === b.name && a.namespace === b.namespace;
}

/** Records a change, keeping Flux's nesting: file, then enclosing object. */
export function addChange(result: UpdateResult, file: string, object: ObjectIdentifier, change: Change): void {
  let fileChanges = result.files.find((f) => f.file === file);
  if (!fileChanges) {
    fileChanges = { file, objects: [] };
    result.files.push(fileChanges);
    result.files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }
  let objectChanges = fileChanges.objects.find((o) => sameObject(o.object, object));
  if (!objectChanges) {
    objectChanges = { object, changes: [] };
    fileChanges.objects.push(objectChanges);
  }
  objectChanges.changes.push(change);
}

/** `Changes()`: every distinct (old, new, setter), in file then object order (Go's is random). */
export function distinctChanges(result: UpdateResult): Change[] {
  const seen = new Set<string>();
  const out: Change[] = [];
  for (const f of result.files) {
    for (const o of f.objects) {
      for (const c of o.changes) {
        const key = JSON.stringify([c.oldValue, c.newValue, c.setter]);
        if (!seen.has(key)) {
          seen.add(key);
          out.push(c);
        }
      }
    }
  }
  return out;
}

// ---- Go-shaped template data ----

function goObjectIdentifier(o: ObjectIdentifier): GoStruct {
  // Flux's ObjectIdentifier embeds kyaml's ResourceIdentifier{TypeMeta{APIVersion, Kind}, NameMeta{Name, Namespace}}:
  // its fields are promoted (so `.Kind` works), `%v` shows the nesting, JSON uses the tags.
  return new GoStruct(
    'update.ObjectIdentifier',
    { APIVersion: o.apiVersion, Kind: o.kind, Name: o.name, Namespace: o.namespace },
    {
      format: () => `{{{${o.apiVersion} ${o.kind}} {${o.name} ${o.namespace}}}}`,
      json: () => {
        const out: Record<string, string> = {};
        if (o.apiVersion) out.apiVersion = o.apiVersion;
        if (o.kind) out.kind = o.kind;
        if (o.name) out.name = o.name;
        if (o.namespace) out.namespace = o.namespace;
        return out;
      },
    },
  );
}

function goChange(c: Change): GoStruct {
  return new GoStruct('update.Change', { OldValue: c.oldValue, NewValue: c.newValue, Setter: c.setter });
}

function goObjectChanges(objects: readonly ObjectChanges[]): GoMap {
  // The element zero value (what `index` answers for a missing key) is a nil []Change, printed `[]`.
  return new GoMap('update.ObjectChanges', [], objects.map((o) => [goObjectIdentifier(o.object), o.changes.map(goChange)]));
}

export function goResult(result: UpdateResult): GoStruct {
  const fileChanges = new GoMap('map[string]update.ObjectChanges', goObjectChanges([]), result.files.map((f) => [f.file, goObjectChanges(f.objects)]));
  return new GoStruct('update.Result', { FileChanges: fileChanges }, {
    methods: {
      // Objects(): changes per object regardless of file; a later file's entry replaces an earlier one, as in Flux.
      Objects: () => {
        const merged = new Map<string, ObjectChanges>();
        for (const f of result.files) for (const o of f.objects) merged.set(JSON.stringify(o.object), o);
        return goObjectChanges([...merged.values()]);
      },
      Changes: () => distinctChanges(result).map(goChange),
    },
  });
}

export interface AutomationKey {
  namespace: string;
  name: string;
}

/** Flux's `TemplateData{AutomationObject, Changed, Values}`. */
export function templateData(automation: AutomationKey, result: UpdateResult, values: Readonly<Record<string, string>> = {}): GoStruct {
  return new GoStruct('source.TemplateData', {
    AutomationObject: new GoStruct(
      'types.NamespacedName',
      { Namespace: automation.namespace, Name: automation.name },
      { stringer: () => `${automation.namespace}/${automation.name}` },
    ),
    Changed: goResult(result),
    Values: new GoMap('map[string]string', '', Object.entries(values)),
  });
}
