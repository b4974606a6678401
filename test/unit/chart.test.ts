/**
 * The Helm chart (charts/herald), without Helm: Helm cannot be installed on these machines.
 *
 * - values.yaml against values.schema.json (ajv, draft-07, as `helm install` does);
 * - every template rendered by the small Go-template renderer below, then parsed as YAML. It
 *   covers exactly the subset the chart uses, and throws on anything else, so a template that
 *   strays from it fails here rather than rendering wrongly:
 *     actions: `if` / `else` / `end`, `with` / `end`, `define` / `include`, `{{/* comments *\/}}`,
 *     `{{-` and `-}}` trimming;
 *     values: `.`, `.Values.a.b`, `.Release.Name|Namespace|Service`, `.Chart.Name|Version|AppVersion`,
 *     string and number literals, `( … )`, pipelines;
 *     functions: include, toYaml, toJson, nindent, indent, quote, default, required, fail,
 *     trunc, trimSuffix, sha256sum, not, and, or, eq, ne, gt, int.
 * - rendered objects against Kubernetes' schemas from npm: `kubernetes-models` (and
 *   `@kubernetes-models/prometheus-operator` for the ServiceMonitor) ship an ajv validator per
 *   kind, compiled from the Kubernetes OpenAPI document (types, required fields, enums, formats);
 *   they accept unknown fields, as the OpenAPI document does, so unknown fields (a misspelt
 *   `readinesProbe`) are caught by walking the object with the field tables of
 *   `@kubernetes/client-node`'s generated models;
 * - the CRDs' openAPIV3Schema against examples/manifests (and a bad Provider), with ajv.
 *
 * `CHART_DUMP=1 npx vitest run test/unit/chart.test.ts -t defaults` prints the rendered chart.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import AjvModule from 'ajv';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Metrics } from '../../src/observability/metrics.js';
import { RECEIVER_RESOURCE_KINDS, RECEIVER_TYPES } from '../../src/receivers/types.js';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';

const Ajv = AjvModule.default;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHART = join(ROOT, 'charts/herald');

// ---------------------------------------------------------------------------------------------
// A renderer for the Go-template subset the chart uses.

type Value = unknown;
type Node =
  | { t: 'text'; text: string }
  | { t: 'out'; pipe: Pipeline }
  | { t: 'if'; pipe: Pipeline; then: Node[]; else: Node[] }
  | { t: 'with'; pipe: Pipeline; then: Node[]; else: Node[] };
type Term =
  | { t: 'field'; path: string[] }
  | { t: 'lit'; value: Value }
  | { t: 'fn'; name: string }
  | { t: 'sub'; pipe: Pipeline };
type Pipeline = Term[][];

interface Template {
  nodes: Node[];
  defines: Map<string, Node[]>;
}

function tokenizeActions(src: string): Array<{ text: string } | { action: string }> {
  const parts: Array<{ text: string } | { action: string }> = [];
  const re = /\{\{(-\s)?([\s\S]*?)(\s-)?\}\}/g;
  let last = 0;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    let before = src.slice(last, m.index);
    if (m[1]) before = before.replace(/\s+$/, '');
    parts.push({ text: before });
    parts.push({ action: (m[2] ?? '').trim() });
    last = re.lastIndex;
    if (m[3]) {
      const rest = /^\s*/.exec(src.slice(last));
      last += rest ? rest[0].length : 0;
    }
  }
  parts.push({ text: src.slice(last) });
  return parts;
}

function tokenizeExpr(expr: string): string[] {
  const tokens: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|[()|]|[^\s()|]+)/gy;
  for (let m = re.exec(expr); m && m[1]; m = re.exec(expr)) tokens.push(m[1]);
  return tokens;
}

function parsePipeline(tokens: string[], pos: { i: number }): Pipeline {
  const pipe: Pipeline = [[]];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i++] as string;
    const cmd = pipe[pipe.length - 1] as Term[];
    if (tok === ')') return pipe;
    if (tok === '|') pipe.push([]);
    else if (tok === '(') cmd.push({ t: 'sub', pipe: parsePipeline(tokens, pos) });
    else if (tok.startsWith('"')) cmd.push({ t: 'lit', value: JSON.parse(tok) });
    else if (tok.startsWith('`')) cmd.push({ t: 'lit', value: tok.slice(1, -1) });
    else if (/^-?\d+(\.\d+)?$/.test(tok)) cmd.push({ t: 'lit', value: Number(tok) });
    else if (tok === 'true' || tok === 'false') cmd.push({ t: 'lit', value: tok === 'true' });
    else if (tok === '.') cmd.push({ t: 'field', path: [] });
    else if (/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(tok)) cmd.push({ t: 'field', path: tok.slice(1).split('.') });
    else if (/^[a-z][A-Za-z0-9]*$/.test(tok)) cmd.push({ t: 'fn', name: tok });
    else throw new Error(`template: unsupported token "${tok}"`);
  }
  return pipe;
}

function parseTemplate(src: string, file: string): Template {
  const defines = new Map<string, Node[]>();
  const root: Node[] = [];
  const stack: Array<{ kind: string; node?: Extract<Node, { t: 'if' | 'with' }>; list: Node[]; name?: string }> = [
    { kind: 'root', list: root },
  ];
  const top = () => stack[stack.length - 1] as (typeof stack)[number];
  for (const part of tokenizeActions(src)) {
    if ('text' in part) {
      if (part.text) top().list.push({ t: 'text', text: part.text });
      continue;
    }
    const a = part.action;
    if (a.startsWith('/*')) continue;
    const [keyword = '', ...rest] = a.split(/\s+/);
    const expr = a.slice(keyword.length).trim();
    if (keyword === 'if' || keyword === 'with') {
      const node = { t: keyword, pipe: parsePipeline(tokenizeExpr(expr), { i: 0 }), then: [], else: [] } as Extract<
        Node,
        { t: 'if' | 'with' }
      >;
      top().list.push(node);
      stack.push({ kind: keyword, node, list: node.then });
    } else if (keyword === 'else') {
      if (rest.length) throw new Error(`${file}: "else ${rest.join(' ')}" is outside the supported subset`);
      const frame = top();
      if (!frame.node) throw new Error(`${file}: else outside if/with`);
      frame.list = frame.node.else;
    } else if (keyword === 'end') {
      const frame = stack.pop();
      if (!frame || frame.kind === 'root') throw new Error(`${file}: unbalanced end`);
      if (frame.kind === 'define') defines.set(frame.name as string, frame.list);
    } else if (keyword === 'define') {
      stack.push({ kind: 'define', list: [], name: JSON.parse(expr) as string });
    } else if (['range', 'template', 'block', 'else if'].includes(keyword) || keyword.startsWith('$')) {
      throw new Error(`${file}: "${keyword}" is outside the supported subset`);
    } else {
      top().list.push({ t: 'out', pipe: parsePipeline(tokenizeExpr(a), { i: 0 }) });
    }
  }
  if (stack.length !== 1) throw new Error(`${file}: missing end`);
  return { nodes: root, defines };
}

function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function indentLines(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return pad + s.replaceAll('\n', `\n${pad}`);
}

class Renderer {
  readonly defines = new Map<string, Node[]>();

  constructor(helpers: string[]) {
    for (const src of helpers) for (const [k, v] of parseTemplate(src, 'helpers').defines) this.defines.set(k, v);
  }

  render(src: string, file: string, dot: Value): string {
    return this.exec(parseTemplate(src, file).nodes, dot);
  }

  private exec(nodes: Node[], dot: Value): string {
    let out = '';
    for (const node of nodes) {
      if (node.t === 'text') out += node.text;
      else if (node.t === 'out') out += this.print(this.pipe(node.pipe, dot));
      else if (node.t === 'if') out += this.exec(truthy(this.pipe(node.pipe, dot)) ? node.then : node.else, dot);
      else {
        const v = this.pipe(node.pipe, dot);
        out += truthy(v) ? this.exec(node.then, v) : this.exec(node.else, dot);
      }
    }
    return out;
  }

  private print(v: Value): string {
    if (v === undefined || v === null) return '';
    if (typeof v === 'object') throw new Error(`template: printing a ${Array.isArray(v) ? 'list' : 'map'}; use toYaml`);
    return String(v);
  }

  private pipe(pipe: Pipeline, dot: Value): Value {
    let piped: Value;
    let first = true;
    for (const cmd of pipe) {
      piped = this.command(cmd, dot, first ? [] : [piped]);
      first = false;
    }
    return piped;
  }

  private term(term: Term, dot: Value): Value {
    if (term.t === 'lit') return term.value;
    if (term.t === 'sub') return this.pipe(term.pipe, dot);
    if (term.t === 'field') {
      let v: Value = dot;
      for (const key of term.path) v = v === undefined || v === null ? undefined : (v as Record<string, Value>)[key];
      return v;
    }
    throw new Error(`template: function ${term.name} used as a value`);
  }

  private command(cmd: Term[], dot: Value, piped: Value[]): Value {
    const [head, ...rest] = cmd;
    if (!head) throw new Error('template: empty command');
    if (head.t === 'field' && head.path.join('.') === 'Files.Get') {
      // Helm's `.Files.Get "path"`: a file of the chart, relative to its root, as a string.
      const [pathTerm] = rest;
      if (rest.length !== 1 || pathTerm?.t !== 'lit' || piped.length) throw new Error('template: .Files.Get takes one literal path');
      return readFileSync(join(CHART, String(pathTerm.value)), 'utf8');
    }
    if (head.t !== 'fn') {
      if (rest.length || piped.length) throw new Error('template: a value cannot take arguments');
      return this.term(head, dot);
    }
    const args = [...rest.map((t) => this.term(t, dot)), ...piped];
    const str = (v: Value) => (v === undefined || v === null ? '' : String(v));
    switch (head.name) {
      case 'include': {
        const body = this.defines.get(str(args[0]));
        if (!body) throw new Error(`template: no template "${str(args[0])}"`);
        return this.exec(body, args[1]);
      }
      case 'toYaml':
        return args[0] === undefined || args[0] === null ? 'null' : stringifyYaml(args[0], { sortMapEntries: true }).replace(/\n$/, '');
      case 'toJson':
        return JSON.stringify(args[0] ?? null);
      case 'sha256sum':
        return createHash('sha256').update(str(args[0])).digest('hex');
      case 'nindent':
        return `\n${indentLines(Number(args[0]), str(args[1]))}`;
      case 'indent':
        return indentLines(Number(args[0]), str(args[1]));
      case 'quote':
        return args.filter((a) => a !== undefined && a !== null).map((a) => JSON.stringify(String(a))).join(' ');
      case 'default':
        return truthy(args[1]) ? args[1] : args[0];
      case 'required':
        if (args[1] === undefined || args[1] === null || args[1] === '') throw new Error(str(args[0]));
        return args[1];
      case 'fail':
        throw new Error(str(args[0]));
      case 'trunc':
        return str(args[1]).slice(0, Number(args[0]));
      case 'trimSuffix': {
        const [suffix, s] = [str(args[0]), str(args[1])];
        return suffix && s.endsWith(suffix) ? s.slice(0, -suffix.length) : s;
      }
      case 'not':
        return !truthy(args[0]);
      case 'and':
        return args.find((a) => !truthy(a)) ?? args[args.length - 1];
      case 'or':
        return args.find((a) => truthy(a)) ?? args[args.length - 1];
      case 'eq':
        return args.slice(1).some((a) => a === args[0]);
      case 'ne':
        return args[0] !== args[1];
      case 'gt':
        return (args[0] as number) > (args[1] as number);
      case 'int':
        return Math.trunc(Number(args[0] ?? 0));
      default:
        throw new Error(`template: function "${head.name}" is outside the supported subset`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The chart, rendered as `helm template` would.

type Obj = Record<string, unknown>;
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

const chartMeta = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
const defaultValues = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;
const valuesSchema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Obj;

function templateFiles(dir = join(CHART, 'templates'), prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? templateFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}
const TEMPLATES = templateFiles();
const MANIFEST_TEMPLATES = TEMPLATES.filter((f) => f.endsWith('.yaml'));
const helpers = TEMPLATES.filter((f) => f.split('/').pop()?.startsWith('_')).map((f) => readFileSync(join(CHART, 'templates', f), 'utf8'));
const renderer = new Renderer(helpers);

function merge(base: Value, overlay: Value): Value {
  if (overlay === undefined) return base;
  if (base && overlay && typeof base === 'object' && typeof overlay === 'object' && !Array.isArray(base) && !Array.isArray(overlay)) {
    const out: Obj = { ...(base as Obj) };
    for (const [k, v] of Object.entries(overlay as Obj)) out[k] = merge((base as Obj)[k], v);
    return out;
  }
  return overlay;
}

const REDIS = { redis: { url: 'redis://redis.herald.svc:6379' } };

function context(overrides: Obj, release = { name: 'herald', namespace: 'flux-system' }) {
  return {
    Values: merge(defaultValues, overrides),
    Release: { Name: release.name, Namespace: release.namespace, Service: 'Helm' },
    Chart: { Name: chartMeta.name, Version: chartMeta.version, AppVersion: chartMeta.appVersion },
  };
}

function renderFile(file: string, overrides: Obj = REDIS): string {
  return renderer.render(readFileSync(join(CHART, 'templates', file), 'utf8'), file, context(overrides));
}

function parseManifests(text: string, file: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}\n${text}`);
    const obj = doc.toJS() as K8sObject | null;
    return obj ? [obj] : [];
  });
}

/** Every object the chart renders with these values (helm template). */
function renderChart(overrides: Obj = REDIS): K8sObject[] {
  return MANIFEST_TEMPLATES.flatMap((f) => parseManifests(renderFile(f, overrides), f));
}

const find = (objs: K8sObject[], kind: string, name?: string) =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const one = (objs: K8sObject[], kind: string, name?: string) => {
  const found = find(objs, kind, name);
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0] as K8sObject;
};

// ---------------------------------------------------------------------------------------------
// Kubernetes schemas.

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'v1 ServiceAccount': ServiceAccount,
  'v1 Secret': Secret,
  'rbac.authorization.k8s.io/v1 ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1 ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1 Role': Role,
  'rbac.authorization.k8s.io/v1 RoleBinding': RoleBinding,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'apiextensions.k8s.io/v1 CustomResourceDefinition': CustomResourceDefinition,
  'monitoring.coreos.com/v1 ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1 PrometheusRule': PrometheusRule,
  'v1 ConfigMap': ConfigMap,
};

interface AttributeType {
  baseName: string;
  type: string;
}
const clientModels = k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeType[] } | undefined>;

/** Fields the Kubernetes API does not define for this type (`@kubernetes/client-node` models). */
function unknownFields(value: unknown, type: string, path: string, out: string[]): string[] {
  if (value === null || value === undefined) return out;
  const list = /^Array<(.+)>$/.exec(type);
  if (list) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, list[1] as string, `${path}[${i}]`, out));
    return out;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, v] of Object.entries(value as Obj)) unknownFields(v, map[1] as string, `${path}.${k}`, out);
    return out;
  }
  const attrs = clientModels[type]?.getAttributeTypeMap?.();
  if (!attrs || typeof value !== 'object') return out; // a primitive, IntOrString, or any
  for (const [k, v] of Object.entries(value as Obj)) {
    const attr = attrs.find((a) => a.baseName === k);
    if (!attr) out.push(`${path}.${k}`);
    else unknownFields(v, attr.type, `${path}.${k}`, out);
  }
  return out;
}

function validateObject(obj: K8sObject): void {
  const key = `${obj.apiVersion} ${obj.kind}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema for ${key}`);
  new Model(obj as never).validate();
  const unknown = obj.apiVersion === 'monitoring.coreos.com/v1' ? [] : unknownFields(obj, `V1${obj.kind}`, obj.kind, []);
  if (unknown.length) throw new Error(`${key} ${obj.metadata.name}: unknown fields ${unknown.join(', ')}`);
}

function ajv() {
  return new Ajv({ allErrors: true, strict: true });
}

/** Error text the way Helm puts it: the value's path, and the offending key when there is one. */
function errorText(errors: Array<{ instancePath: string; message?: string; params: Record<string, unknown> }> | null | undefined) {
  return (errors ?? [])
    .map((e) => {
      const extra = e.params.additionalProperty ? ` '${String(e.params.additionalProperty)}'` : '';
      return `${e.instancePath || '/'} ${e.message ?? ''}${extra}`;
    })
    .join('; ');
}

// ---------------------------------------------------------------------------------------------

describe('values.schema.json', () => {
  const validate = ajv().compile(valuesSchema);

  it('accepts values.yaml, and values.yaml sets every value the schema knows', () => {
    expect(validate(defaultValues), errorText(validate.errors)).toBe(true);
    expect(Object.keys(defaultValues).sort()).toEqual(Object.keys(valuesSchema.properties as Obj).sort());
  });

  it('accepts a typical production override', () => {
    const values = merge(defaultValues, {
      redis: { existingSecret: 'herald-redis', existingSecretKey: 'url', prefix: '{herald}' },
      watchNamespace: 'apps',
      replicaCount: 3,
      serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
      podDisruptionBudget: { minAvailable: '50%' },
      extraArgs: ['--max-attempts=10'],
      resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    });
    expect(validate(values), errorText(validate.errors)).toBe(true);
  });

  it.each([
    [{ replicaCount: 0 }, '/replicaCount must be >= 1'],
    [{ logLevel: 'verbose' }, '/logLevel must be equal to one of the allowed values'],
    [{ rateLimitInterval: '5 minutes' }, '/rateLimitInterval must match pattern'],
    [{ redis: { url: 'http://redis:6379' } }, '/redis/url must match pattern'],
    [{ watchNamespace: 'Flux_System' }, '/watchNamespace must match pattern'],
    [{ image: { pullPolicy: 'Sometimes' } }, '/image/pullPolicy must be equal to one of the allowed values'],
    [{ crds: { install: 'yes' } }, '/crds/install must be boolean'],
    [{ service: { port: 70000 } }, '/service/port must be <= 65535'],
    [{ replicas: 3 }, "/ must NOT have additional properties 'replicas'"],
    [{ serviceMonitor: { enable: true } }, "/serviceMonitor must NOT have additional properties 'enable'"],
  ])('rejects %j, naming the field', (override, message) => {
    expect(validate(merge(defaultValues, override))).toBe(false);
    expect(errorText(validate.errors)).toContain(message);
  });
});

describe('templates render to YAML', () => {
  const scenarios: Array<[string, Obj]> = [
    ['defaults with redis.url', REDIS],
    ['watchNamespace, existing Secret, ServiceMonitor', { redis: { existingSecret: 'redis-auth' }, watchNamespace: 'apps', serviceMonitor: { enabled: true } }],
    ['one replica, no CRDs, no RBAC', { ...REDIS, replicaCount: 1, crds: { install: false }, rbac: { create: false }, serviceAccount: { create: false, name: 'custom' } }],
    [
      'every optional block filled',
      {
        ...REDIS,
        noCrossNamespaceRefs: true,
        extraArgs: ['--max-attempts=10'],
        extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=384' }],
        podAnnotations: { a: 'b' },
        podLabels: { team: 'platform' },
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
        affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'herald' } } }],
        priorityClassName: 'system-cluster-critical',
        imagePullSecrets: [{ name: 'regcred' }],
        serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/herald' } },
        service: { port: 9090, annotations: { x: 'y' } },
        serviceMonitor: { enabled: true, labels: { release: 'prom' } },
        prometheusRule: { enabled: true, labels: { release: 'prom' } },
        grafanaDashboard: { enabled: true, annotations: { 'grafana_folder': 'Flux' } },
        rbac: { extraRules: [{ apiGroups: ['fluxcd.controlplane.io'], resources: ['fluxinstances'], verbs: ['get'] }] },
        preStopSleepSeconds: 0,
      },
    ],
  ];

  it('the templates directory holds the expected files', () => {
    expect(TEMPLATES.sort()).toEqual(
      [
        'NOTES.txt',
        '_helpers.tpl',
        'crds/alerts.yaml',
        'crds/imagepolicies.yaml',
        'crds/imagerepositories.yaml',
        'crds/imageupdateautomations.yaml',
        'crds/providers.yaml',
        'crds/receivers.yaml',
        'deployment.yaml',
        'grafana-dashboard.yaml',
        'poddisruptionbudget.yaml',
        'prometheusrule.yaml',
        'rbac.yaml',
        'redis-secret.yaml',
        'service.yaml',
        'serviceaccount.yaml',
        'servicemonitor.yaml',
      ].sort(),
    );
  });

  it.each(scenarios)('%s: every object parses and validates against the Kubernetes schemas', (_name, overrides) => {
    const values = merge(defaultValues, overrides);
    const validateValues = ajv().compile(valuesSchema);
    expect(validateValues(values), errorText(validateValues.errors)).toBe(true);
    const objects = renderChart(overrides);
    if (process.env.CHART_DUMP) console.log(MANIFEST_TEMPLATES.map((f) => `# ${f}\n${renderFile(f, overrides)}`).join('\n'));
    expect(objects.length).toBeGreaterThan(3);
    for (const obj of objects) {
      expect(() => validateObject(obj), `${obj.kind} ${obj.metadata.name}`).not.toThrow();
      expect(obj.metadata.labels?.['app.kubernetes.io/instance']).toBe('herald');
      expect(obj.metadata.labels?.['helm.sh/chart']).toBe(`herald-${String(chartMeta.version)}`);
    }
    const names = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(names).size).toBe(names.length);
    expect(renderFile('NOTES.txt', overrides)).toContain('--events-addr=http://herald.flux-system.svc.cluster.local./');
  });

  it('a schema violation is caught: the validators are not vacuous', () => {
    const deployment = one(renderChart(), 'Deployment');
    const spec = deployment.spec as Obj;
    expect(() => validateObject({ ...deployment, spec: { ...spec, replicas: 'two' } })).toThrow(/replicas/);
    const template = spec.template as { spec: { containers: Obj[] } };
    const typo = structuredClone(deployment);
    ((typo.spec as typeof spec).template as typeof template).spec.containers[0] = { ...template.spec.containers[0], readinesProbe: {} };
    expect(() => validateObject(typo)).toThrow(/readinesProbe/);
  });

  it('refuses to render without Redis: the chart never runs the in-process queue', () => {
    expect(() => renderFile('redis-secret.yaml', {})).toThrow(/set redis.url or redis.existingSecret/);
  });

  it('the renderer refuses template syntax outside its subset', () => {
    expect(() => renderer.render('{{ range .Values.x }}{{ end }}', 't', context(REDIS))).toThrow(/outside the supported subset/);
    expect(() => renderer.render('{{ .Values.x | upper }}', 't', context(REDIS))).toThrow(/outside the supported subset/);
  });
});

describe('Deployment', () => {
  const deployment = one(renderChart(), 'Deployment', 'herald');
  const podSpec = (deployment.spec as { template: { spec: Obj } }).template.spec as {
    containers: Array<Obj & { args: string[]; env: Obj[]; ports: Array<{ name: string; containerPort: number }> }>;
    securityContext: Obj;
    terminationGracePeriodSeconds: number;
    serviceAccountName: string;
  };
  const container = podSpec.containers[0] as (typeof podSpec.containers)[number];

  it('runs Herald on the Kubernetes source with the documented ports and flags', () => {
    expect((deployment.spec as Obj).replicas).toBe(2);
    expect(container.image).toBe(`herald:${String(chartMeta.appVersion)}`);
    expect(container.args).toEqual([
      '--kubernetes',
      '--events-addr=:9090',
      '--metrics-addr=:8080',
      '--health-addr=:9440',
      '--receiver-addr=:9292',
      '--log-level=info',
      '--rate-limit-interval=5m',
      '--shutdown-timeout=25s',
      '--redis-prefix=herald',
    ]);
    expect(container.ports.map((p) => [p.name, p.containerPort])).toEqual([
      ['events', 9090],
      ['http-metrics', 8080],
      ['health', 9440],
      ['receiver', 9292],
    ]);
    expect(podSpec.serviceAccountName).toBe('herald');
  });

  it('optional flags follow the values', () => {
    const args = (o: Obj) =>
      (one(renderChart({ ...REDIS, ...o }), 'Deployment').spec as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec
        .containers[0]?.args;
    expect(args({ watchNamespace: 'apps' })).toContain('--watch-namespace=apps');
    expect(args({ noCrossNamespaceRefs: true })).toContain('--no-cross-namespace-refs');
    expect(args({ logLevel: 'debug', rateLimitInterval: '1m' })).toEqual(expect.arrayContaining(['--log-level=debug', '--rate-limit-interval=1m']));
    expect(args({ extraArgs: ['--max-attempts=3'] })?.at(-1)).toBe('--max-attempts=3');
    expect(args({})).not.toContain('--no-cross-namespace-refs');
  });

  it("Herald's own flag parser takes the rendered arguments", () => {
    const rendered = (o: Obj) =>
      (one(renderChart({ ...REDIS, ...o }), 'Deployment').spec as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec
        .containers[0]?.args as string[];
    const env = { REDIS_URL: 'redis://redis.herald.svc:6379', HERALD_POD_NAMESPACE: 'flux-system' };
    const config = loadConfig(rendered({}), env);
    if (typeof config === 'string') throw new Error(config);
    expect(config).toMatchObject({
      kubernetes: true,
      configDir: undefined,
      watchNamespace: undefined,
      eventsAddr: { port: 9090 },
      metricsAddr: { port: 8080 },
      healthAddr: { port: 9440 },
      receiverAddr: { port: 9292 },
      logLevel: 'info',
      noCrossNamespaceRefs: false,
      rateLimitIntervalMs: 300_000,
      shutdownTimeoutMs: 25_000,
      redisPrefix: 'herald',
    });
    const scoped = loadConfig(rendered({ watchNamespace: 'apps', noCrossNamespaceRefs: true, redis: { ...REDIS.redis, prefix: '{herald}' } }), env);
    expect(scoped).toMatchObject({ watchNamespace: 'apps', noCrossNamespaceRefs: true, redisPrefix: '{herald}' });
  });

  it('probes the health port, and is locked down', () => {
    expect(container.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'health' } });
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'health' } });
    expect(podSpec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources).toMatchObject({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  });

  it('gives SIGTERM time: grace period above preStop sleep + --shutdown-timeout', () => {
    const shutdownSeconds = Number(/^(\d+)s$/.exec(String(defaultValues.shutdownTimeout))?.[1]);
    expect(shutdownSeconds).toBe(25);
    expect(podSpec.terminationGracePeriodSeconds).toBeGreaterThan(shutdownSeconds + Number(defaultValues.preStopSleepSeconds));
    expect(container.lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '5'] } } });
  });

  it('reads REDIS_URL from a Secret: the chart\'s own, or an existing one', () => {
    const redisEnv = (objs: K8sObject[]) =>
      (one(objs, 'Deployment').spec as { template: { spec: { containers: Array<{ env: Array<{ name: string; valueFrom?: Obj }> }> } } }).template.spec.containers[0]?.env.find(
        (e) => e.name === 'REDIS_URL',
      );
    const own = renderChart();
    expect(redisEnv(own)).toEqual({ name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'herald-redis', key: 'redis-url' } } });
    expect(one(own, 'Secret', 'herald-redis').stringData).toEqual({ 'redis-url': 'redis://redis.herald.svc:6379' });

    const existing = renderChart({ redis: { existingSecret: 'redis-auth', existingSecretKey: 'url' } });
    expect(redisEnv(existing)).toEqual({ name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'url' } } });
    expect(find(existing, 'Secret')).toEqual([]);
  });
});

describe('Services, ServiceMonitor, PodDisruptionBudget', () => {
  it('the events Service answers on 80 (no port in --events-addr, as for Flux) and on 9090', () => {
    const service = one(renderChart(), 'Service', 'herald');
    expect((service.spec as { ports: Obj[] }).ports).toEqual([
      { name: 'http', port: 80, targetPort: 'events', protocol: 'TCP' },
      { name: 'events', port: 9090, targetPort: 'events', protocol: 'TCP' },
    ]);
    const pod = (one(renderChart(), 'Deployment').spec as { template: { metadata: { labels: Obj } } }).template.metadata.labels;
    expect(pod).toMatchObject((service.spec as { selector: Obj }).selector);
    const on9090 = one(renderChart({ ...REDIS, service: { port: 9090 } }), 'Service', 'herald');
    expect((on9090.spec as { ports: Obj[] }).ports).toHaveLength(1);
  });

  it('the Receiver Service answers on 80, to the receiver port only', () => {
    const service = one(renderChart(), 'Service', 'herald-receiver');
    expect((service.spec as { ports: Obj[] }).ports).toEqual([{ name: 'http', port: 80, targetPort: 'receiver', protocol: 'TCP' }]);
    expect((service.spec as { selector: Obj }).selector).toEqual((one(renderChart(), 'Service', 'herald').spec as { selector: Obj }).selector);
    const exposed = one(renderChart({ ...REDIS, receiver: { service: { type: 'LoadBalancer', port: 8443, annotations: { a: 'b' } } } }), 'Service', 'herald-receiver');
    expect(exposed.spec).toMatchObject({ type: 'LoadBalancer', ports: [{ port: 8443 }] });
    expect(exposed.metadata.annotations).toEqual({ a: 'b' });
  });

  it('the ServiceMonitor selects the metrics Service by label and port name', () => {
    expect(find(renderChart(), 'ServiceMonitor')).toEqual([]);
    const objs = renderChart({ ...REDIS, serviceMonitor: { enabled: true, labels: { release: 'prom' } } });
    const monitor = one(objs, 'ServiceMonitor');
    const metrics = one(objs, 'Service', 'herald-metrics');
    const spec = monitor.spec as { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> };
    expect(metrics.metadata.labels).toMatchObject(spec.selector.matchLabels);
    expect(one(objs, 'Service', 'herald').metadata.labels).not.toMatchObject(spec.selector.matchLabels);
    expect(spec.endpoints[0]).toMatchObject({ port: 'http-metrics', path: '/metrics' });
    expect((metrics.spec as { ports: Array<{ name: string; port: number }> }).ports).toEqual([
      { name: 'http-metrics', port: 8080, targetPort: 'http-metrics', protocol: 'TCP' },
    ]);
    expect(monitor.metadata.labels?.release).toBe('prom');
  });

  it('a PodDisruptionBudget with minAvailable 1 only when there is more than one replica', () => {
    expect(one(renderChart(), 'PodDisruptionBudget').spec).toMatchObject({ minAvailable: 1 });
    expect(find(renderChart({ ...REDIS, replicaCount: 1 }), 'PodDisruptionBudget')).toEqual([]);
    expect(find(renderChart({ ...REDIS, podDisruptionBudget: { enabled: false } }), 'PodDisruptionBudget')).toEqual([]);
  });
});

describe('monitoring: PrometheusRule and Grafana dashboard', () => {
  const RULES_FILE = join(CHART, 'files/prometheus-rules.yaml');
  const DASHBOARD_FILE = join(CHART, 'files/grafana-dashboard.json');

  /** Every series name Herald exports (histograms as _bucket/_sum/_count), with its label names. */
  async function exportedSeries(): Promise<Map<string, string[]>> {
    const metrics = new Metrics();
    const series = new Map<string, string[]>();
    for (const m of await metrics.registry.getMetricsAsJSON()) {
      const labels = [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))];
      const declared = (metrics.registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? [];
      const names = String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name];
      for (const n of names) series.set(n, [...new Set([...labels, ...declared, ...(n.endsWith('_bucket') ? ['le'] : [])])]);
    }
    return series;
  }

  /** Each `herald_*` selector in a PromQL expression, with the label names it matches on. */
  function selectors(expr: string): Array<{ name: string; labels: string[] }> {
    return [...expr.matchAll(/\b(herald_[a-z_]+)(\{([^}]*)\})?/g)].map((m) => ({
      name: m[1] as string,
      labels: [...(m[3] ?? '').matchAll(/([a-zA-Z_]+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] as string),
    }));
  }

  async function expectOnlyExportedSeries(exprs: string[]): Promise<void> {
    const series = await exportedSeries();
    const scrapeLabels = ['instance', 'job', 'pod', 'namespace'];
    for (const expr of exprs) {
      const found = selectors(expr);
      for (const { name, labels } of found) {
        expect(series.has(name), `${name} in ${expr}`).toBe(true);
        for (const label of labels) expect([...(series.get(name) ?? []), ...scrapeLabels], `${name}{${label}} in ${expr}`).toContain(label);
      }
    }
  }

  it('renders the rules file as a valid PrometheusRule only when enabled', () => {
    expect(find(renderChart(), 'PrometheusRule')).toEqual([]);
    const rule = one(renderChart({ ...REDIS, prometheusRule: { enabled: true, labels: { release: 'prom' } } }), 'PrometheusRule');
    expect(rule.metadata.labels?.release).toBe('prom');
    expect(rule.spec).toEqual(parseYaml(readFileSync(RULES_FILE, 'utf8')));
    const alerts = (rule.spec as { groups: Array<{ rules: Array<{ alert: string }> }> }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(expect.arrayContaining(['HeraldQueueBackingUp', 'HeraldDeadLettersGrowing', 'HeraldProviderFailing']));
  });

  it('the rules and the dashboard query only series and labels Herald exports', async () => {
    const rules = parseYaml(readFileSync(RULES_FILE, 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
    const panelExprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(panelExprs.length).toBeGreaterThan(5);
    await expectOnlyExportedSeries([...ruleExprs, ...panelExprs]);
    // The check itself catches a misspelt series or label.
    await expect(expectOnlyExportedSeries(['rate(herald_delivery_total[5m])'])).rejects.toThrow();
    await expect(expectOnlyExportedSeries(['herald_queue_jobs{provider="x"}'])).rejects.toThrow();
  });

  it('renders the dashboard into a ConfigMap the Grafana sidecar picks up', () => {
    expect(find(renderChart(), 'ConfigMap')).toEqual([]);
    const cm = one(renderChart({ ...REDIS, grafanaDashboard: { enabled: true, namespace: 'monitoring' } }), 'ConfigMap');
    expect(cm.metadata.namespace).toBe('monitoring');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse((cm.data as Record<string, string>)['herald.json'] as string) as { uid: string; panels: Array<{ id: number }> };
    expect(dashboard).toEqual(JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')));
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  // promtool (Debian's prometheus package, installed by .ci/run) checks the PromQL and runs the
  // rules against synthetic series (test/fixtures/prometheus-rules.test.yaml): each alert fires
  // when it should, with the expected labels and text, and stays quiet on healthy series.
  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!promtool && !process.env.CI)('promtool: the rules parse and fire on the series they are meant for', () => {
    const check = spawnSync('promtool', ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const run = spawnSync('promtool', ['test', 'rules', join(ROOT, 'test/fixtures/prometheus-rules.test.yaml')], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});

describe('RBAC: only what Herald calls', () => {
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
  const grants = (rules: Rule[]) =>
    rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'}/${res}:${v}`)))).sort();

  const watched = [
    'notification.toolkit.fluxcd.io/providers:get',
    'notification.toolkit.fluxcd.io/providers:list',
    'notification.toolkit.fluxcd.io/providers:watch',
    'notification.toolkit.fluxcd.io/alerts:get',
    'notification.toolkit.fluxcd.io/alerts:list',
    'notification.toolkit.fluxcd.io/alerts:watch',
    'notification.toolkit.fluxcd.io/receivers:get',
    'notification.toolkit.fluxcd.io/receivers:list',
    'notification.toolkit.fluxcd.io/receivers:watch',
    'notification.toolkit.fluxcd.io/providers/status:patch',
    'notification.toolkit.fluxcd.io/alerts/status:patch',
    'notification.toolkit.fluxcd.io/receivers/status:patch',
    'core/secrets:get',
    'core/secrets:list',
    'core/secrets:watch',
    'core/events:create',
    'core/events:patch',
  ];
  /** Image automation's own: watch its objects and the GitRepositories, patch the status of its objects (never a GitRepository's). */
  const imageAutomation = [
    'image.toolkit.fluxcd.io/imagerepositories:watch',
    'image.toolkit.fluxcd.io/imagepolicies:watch',
    'image.toolkit.fluxcd.io/imageupdateautomations:watch',
    'image.toolkit.fluxcd.io/imagerepositories/status:patch',
    'image.toolkit.fluxcd.io/imagepolicies/status:patch',
    'image.toolkit.fluxcd.io/imageupdateautomations/status:patch',
    'source.toolkit.fluxcd.io/gitrepositories:watch',
  ];

  it('a ClusterRole when every namespace is watched', () => {
    const objs = renderChart();
    const role = one(objs, 'ClusterRole');
    const all = grants(role.rules as Rule[]);
    expect(all).toEqual(expect.arrayContaining([...watched, ...imageAutomation]));
    expect(all.filter((g) => g.startsWith('source.toolkit.fluxcd.io/gitrepositories/status'))).toEqual([]);
    // Beyond those: get (matchLabels, a Receiver's named target), list (a Receiver's '*') and
    // patch (its reconcile request) on the Flux kinds a Receiver can name, and nothing else.
    const rest = all.filter((g) => !watched.includes(g) && !imageAutomation.includes(g));
    expect(rest.length).toBe(3 * RECEIVER_RESOURCE_KINDS.size);
    for (const g of rest) expect(g).toMatch(/^[a-z.]+\.fluxcd\.io\/[a-z]+:(get|list|patch)$/);
    expect(all.join(' ')).not.toMatch(/\*/);
    expect(rest).toEqual(
      expect.arrayContaining([
        'kustomize.toolkit.fluxcd.io/kustomizations:get',
        'helm.toolkit.fluxcd.io/helmreleases:get',
        'source.toolkit.fluxcd.io/gitrepositories:list',
        'source.toolkit.fluxcd.io/gitrepositories:patch',
        'image.toolkit.fluxcd.io/imagepolicies:patch',
      ]),
    );

    const binding = one(objs, 'ClusterRoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'herald', namespace: 'flux-system' }]);
    expect(find(objs, 'Role').map((r) => r.metadata.name)).toEqual(['herald-leader-election']);
  });

  it('a Role in watchNamespace when one namespace is watched', () => {
    const objs = renderChart({ ...REDIS, watchNamespace: 'apps' });
    expect(find(objs, 'ClusterRole')).toEqual([]);
    expect(find(objs, 'ClusterRoleBinding')).toEqual([]);
    const role = one(objs, 'Role', 'herald');
    expect(role.metadata.namespace).toBe('apps');
    expect(grants(role.rules as Rule[])).toEqual(grants(one(renderChart(), 'ClusterRole').rules as Rule[]));
    const binding = one(objs, 'RoleBinding', 'herald');
    expect(binding.metadata.namespace).toBe('apps');
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'herald' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'herald', namespace: 'flux-system' }]);
  });

  it('imageAutomation.enabled: false drops image automation\'s grants, CRDs, and passes --no-image-automation', () => {
    const objs = renderChart({ ...REDIS, imageAutomation: { enabled: false, installCRDs: true } });
    const all = grants(one(objs, 'ClusterRole').rules as Rule[]);
    expect(all.filter((g) => imageAutomation.includes(g))).toEqual([]);
    expect(objs.filter((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name.endsWith('.image.toolkit.fluxcd.io'))).toEqual([]);
    const args = (one(objs, 'Deployment').spec as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec.containers[0]?.args;
    expect(args).toContain('--no-image-automation');
    expect((one(renderChart(), 'Deployment').spec as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec.containers[0]?.args).not.toContain('--no-image-automation');
  });

  it('leases: get, create, update, in Herald\'s own namespace only', () => {
    const objs = renderChart({ ...REDIS, watchNamespace: 'apps' });
    const lease = one(objs, 'Role', 'herald-leader-election');
    expect(lease.metadata.namespace).toBe('flux-system');
    expect(grants(lease.rules as Rule[])).toEqual(['coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:get', 'coordination.k8s.io/leases:update']);
    expect(one(objs, 'RoleBinding', 'herald-leader-election').roleRef).toMatchObject({ kind: 'Role', name: 'herald-leader-election' });
  });
});

describe('CRDs', () => {
  const allCrds = renderChart().filter((o) => o.kind === 'CustomResourceDefinition');
  const crds = allCrds.filter((c) => c.metadata.name.endsWith('.notification.toolkit.fluxcd.io'));
  const imageCrds = allCrds.filter((c) => c.metadata.name.endsWith('.image.toolkit.fluxcd.io'));
  interface CrdVersion {
    name: string;
    served: boolean;
    storage: boolean;
    subresources?: Obj;
    schema: { openAPIV3Schema: Obj };
  }
  const versionOf = (plural: string) => {
    const crd = allCrds.find((c) => c.metadata.name === `${plural}.notification.toolkit.fluxcd.io` || c.metadata.name === `${plural}.image.toolkit.fluxcd.io`);
    if (!crd) throw new Error(`no CRD for ${plural}`);
    return (crd.spec as { versions: CrdVersion[] }).versions;
  };

  /**
   * The openAPIV3Schema as a JSON schema, checked the way `kubectl apply` (strict field
   * validation) checks an object: unknown fields are errors. CEL rules are not evaluated.
   */
  function strictSchema(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map(strictSchema);
    if (!schema || typeof schema !== 'object') return schema;
    const out: Obj = {};
    for (const [k, v] of Object.entries(schema as Obj)) {
      if (k.startsWith('x-kubernetes-') || k === 'description') continue;
      out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Obj).map(([p, s]) => [p, strictSchema(s)])) : strictSchema(v);
    }
    if (out.type === 'object' && out.properties && out.additionalProperties === undefined) {
      out.additionalProperties = false;
    }
    return out;
  }
  function specValidator(plural: string) {
    const v = versionOf(plural)[0] as CrdVersion;
    const schema = strictSchema(v.schema.openAPIV3Schema) as Obj;
    // metadata is the API server's; only the spec (and status) come from this schema.
    (schema.properties as Obj).metadata = { type: 'object' };
    const instance = ajv();
    instance.addFormat('int64', true);
    instance.addFormat('date-time', true);
    return instance.compile(schema);
  }

  /** Structural schema rules the API server enforces: a type everywhere, no properties with additionalProperties. */
  function structuralProblems(schema: Obj, path: string, out: string[]): string[] {
    if (!schema.type && !schema['x-kubernetes-int-or-string'] && !schema['x-kubernetes-preserve-unknown-fields']) out.push(`${path}: no type`);
    if (schema.properties && schema.additionalProperties) out.push(`${path}: properties and additionalProperties`);
    for (const [k, v] of Object.entries((schema.properties as Record<string, Obj> | undefined) ?? {})) structuralProblems(v, `${path}.${k}`, out);
    if (schema.items) structuralProblems(schema.items as Obj, `${path}[]`, out);
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
      structuralProblems(schema.additionalProperties as Obj, `${path}{}`, out);
    }
    return out;
  }

  const examples = parseAllDocuments(readFileSync(join(ROOT, 'examples/manifests/demo.yaml'), 'utf8')).map((d) => d.toJS() as K8sObject);

  it('Provider and Alert (v1beta3) and Receiver (v1), notification.toolkit.fluxcd.io, served and stored, with a status subresource', () => {
    expect(crds.map((c) => c.metadata.name).sort()).toEqual([
      'alerts.notification.toolkit.fluxcd.io',
      'providers.notification.toolkit.fluxcd.io',
      'receivers.notification.toolkit.fluxcd.io',
    ]);
    for (const crd of crds) {
      const spec = crd.spec as { group: string; scope: string; names: { kind: string } };
      expect(spec).toMatchObject({ group: 'notification.toolkit.fluxcd.io', scope: 'Namespaced' });
      expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
      const versions = versionOf(crd.metadata.name.split('.')[0] as string);
      expect(versions.map((v) => [v.name, v.served, v.storage])).toEqual([[spec.names.kind === 'Receiver' ? 'v1' : 'v1beta3', true, true]]);
      expect(versions[0]?.subresources).toEqual({ status: {} });
      expect(structuralProblems(versions[0]?.schema.openAPIV3Schema as Obj, spec.names.kind, [])).toEqual([]);
    }
  });

  it("Receiver: only v1, as Flux v1.9 serves it, with Flux's categories, printer columns, list keys and validation rules", () => {
    const crd = crds.find((c) => c.metadata.name === 'receivers.notification.toolkit.fluxcd.io') as K8sObject;
    const spec = crd.spec as { names: { categories?: string[] } };
    expect(spec.names.categories).toEqual(['all', 'fluxcd', 'fluxcd-notifications']);
    const [v1, ...others] = versionOf('receivers');
    expect(others).toEqual([]);
    expect((v1 as unknown as { additionalPrinterColumns: Obj[] }).additionalPrinterColumns).toEqual([
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Status', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message' },
    ]);
    const schema = v1?.schema.openAPIV3Schema as { properties: { spec: Obj & { properties: Record<string, Obj & { items?: { properties: Record<string, Obj> } }> }; status: Obj } };
    const oidc = schema.properties.spec.properties.oidcProviders as Obj & { items: { properties: Record<string, Obj> } };
    expect(oidc).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['issuerURL'] });
    expect(oidc.items.properties.validations).toMatchObject({ minItems: 1 });
    expect((schema.properties.spec['x-kubernetes-validations'] as Obj[]).map((r) => r.message)).toEqual([
      'generic-oidc receivers must define at least one oidcProvider',
      'oidcProviders can only be set when type is generic-oidc',
      'secretRef cannot be set when type is generic-oidc',
      'secretRef is required when type is not generic-oidc',
    ]);
    expect(schema.properties.status.default).toEqual({ observedGeneration: -1 });
  });

  it('crds.install: false installs none; crds.keep: false drops the keep policy', () => {
    expect(renderChart({ ...REDIS, crds: { install: false }, imageAutomation: { enabled: true, installCRDs: false } }).filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
    const unkept = renderChart({ ...REDIS, crds: { keep: false } }).filter((o) => o.kind === 'CustomResourceDefinition');
    expect(unkept.map((c) => c.metadata.annotations)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
  });

  it('ImageRepository, ImagePolicy, ImageUpdateAutomation: v1 stored, v1beta2 served with the same schema, both with a status subresource; no GitRepository', () => {
    expect(imageCrds.map((c) => c.metadata.name).sort()).toEqual([
      'imagepolicies.image.toolkit.fluxcd.io',
      'imagerepositories.image.toolkit.fluxcd.io',
      'imageupdateautomations.image.toolkit.fluxcd.io',
    ]);
    expect(allCrds.filter((c) => c.metadata.name.includes('gitrepositories'))).toEqual([]);
    for (const crd of imageCrds) {
      const spec = crd.spec as { group: string; scope: string; names: { kind: string; plural: string } };
      expect(spec).toMatchObject({ group: 'image.toolkit.fluxcd.io', scope: 'Namespaced' });
      expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
      const versions = versionOf(spec.names.plural);
      expect(versions.map((v) => [v.name, v.served, v.storage])).toEqual([
        ['v1', true, true],
        ['v1beta2', true, false],
      ]);
      for (const v of versions) expect(v.subresources).toEqual({ status: {} });
      expect(versions[1]?.schema).toEqual(versions[0]?.schema);
      expect(structuralProblems(versions[0]?.schema.openAPIV3Schema as Obj, spec.names.kind, [])).toEqual([]);
    }
    // imageAutomation.installCRDs: false (Flux's image controllers installed them) leaves them out.
    expect(renderChart({ ...REDIS, imageAutomation: { enabled: true, installCRDs: false } }).filter((o) => o.metadata.name.endsWith('.image.toolkit.fluxcd.io'))).toEqual([]);
  });

  it('accepts the image automation example manifests and the statuses Herald writes; rejects a bad one, naming the field', () => {
    const validators = { ImageRepository: specValidator('imagerepositories'), ImagePolicy: specValidator('imagepolicies'), ImageUpdateAutomation: specValidator('imageupdateautomations') };
    const dir = join(ROOT, 'examples/image-automation/manifests');
    const objects = readdirSync(dir)
      .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as K8sObject))
      .filter((o) => o.apiVersion?.startsWith('image.toolkit.fluxcd.io/'));
    expect(objects.map((o) => o.kind).sort()).toEqual(['ImagePolicy', 'ImageRepository', 'ImageUpdateAutomation']);
    for (const obj of objects) {
      const validate = validators[obj.kind as keyof typeof validators];
      expect(validate(obj), `${obj.kind} ${obj.metadata.name}: ${errorText(validate.errors)}`).toBe(true);
    }
    const condition = { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'repository up-to-date', lastTransitionTime: '2026-12-01T18:00:00Z', observedGeneration: 1 };
    const automation = objects.find((o) => o.kind === 'ImageUpdateAutomation') as K8sObject;
    const withStatus = {
      ...automation,
      status: {
        observedGeneration: 1,
        conditions: [condition],
        lastAutomationRunTime: '2026-12-01T18:00:00Z',
        lastPushCommit: 'a'.repeat(40),
        lastPushTime: '2026-12-01T18:00:00Z',
        observedPolicies: { app: { name: 'ghcr.io/org/app', tag: '1.2.0' } },
        observedSourceRevision: `main@sha1:${'a'.repeat(40)}`,
      },
    };
    expect(validators.ImageUpdateAutomation(withStatus), errorText(validators.ImageUpdateAutomation.errors)).toBe(true);
    const repository = objects.find((o) => o.kind === 'ImageRepository') as K8sObject;
    const scanned = {
      ...repository,
      status: { conditions: [condition], canonicalImageName: 'ghcr.io/org/app', lastScanResult: { revision: 'sha256:00', tagCount: 2, scanTime: '2026-12-01T18:00:00Z', latestTags: ['b', 'a'] }, observedExclusionList: ['^.*\\.sig$'] },
    };
    expect(validators.ImageRepository(scanned), errorText(validators.ImageRepository.errors)).toBe(true);
    const bad = { ...repository, spec: { ...(repository.spec as Obj), provider: 'oracle' } };
    expect(validators.ImageRepository(bad)).toBe(false);
    expect(errorText(validators.ImageRepository.errors)).toContain('/spec/provider');
  });

  it('accepts the example manifests (examples/manifests)', () => {
    const validators = { Provider: specValidator('providers'), Alert: specValidator('alerts') };
    const notification = examples.filter((o) => o.apiVersion === 'notification.toolkit.fluxcd.io/v1beta3');
    expect(notification.map((o) => o.kind).sort()).toEqual(['Alert', 'Provider']);
    for (const obj of notification) {
      const validate = validators[obj.kind as 'Provider' | 'Alert'];
      expect(validate(obj), `${obj.kind} ${obj.metadata.name}: ${errorText(validate.errors)}`).toBe(true);
    }
  });

  it('accepts a Receiver of every type Herald serves, with every kind it can target', () => {
    const validate = specValidator('receivers');
    const resources = [...RECEIVER_RESOURCE_KINDS].map((kind) => ({ kind, name: '*', matchLabels: { app: 'web' }, filter: "res.metadata.name != 'x'" }));
    for (const type of RECEIVER_TYPES) {
      const spec =
        type === 'generic-oidc'
          ? { type, resources, oidcProviders: [{ issuerURL: 'https://token.actions.githubusercontent.com', validations: [{ expression: 'true', message: 'm' }] }] }
          : { type, resources, events: ['push'], secretRef: { name: 'token' }, resourceFilter: 'true', interval: '10m', suspend: false };
      const obj = { apiVersion: 'notification.toolkit.fluxcd.io/v1', kind: 'Receiver', metadata: { name: 'r' }, spec, status: { webhookPath: '/hook/x', observedGeneration: 1 } };
      expect(validate(obj), `${type}: ${errorText(validate.errors)}`).toBe(true);
    }
    expect(validate({ apiVersion: 'notification.toolkit.fluxcd.io/v1', kind: 'Receiver', metadata: {}, spec: { type: 'github', resources: [{ kind: 'Pod', name: 'p' }] } })).toBe(false);
  });

  it('accepts every provider type Herald supports, and Flux\'s full Alert shape', async () => {
    const { supportedTypes } = await import('../../providers/registry.js');
    const validate = specValidator('providers');
    for (const type of supportedTypes()) {
      expect(validate({ apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Provider', metadata: { name: 'p' }, spec: { type } }), type).toBe(true);
    }
    const alert = specValidator('alerts');
    const full = {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Alert',
      metadata: { name: 'a', namespace: 'apps' },
      spec: {
        providerRef: { name: 'slack' },
        eventSeverity: 'error',
        eventSources: [{ kind: 'HelmRelease', name: '*', namespace: 'apps', matchLabels: { team: 'a' }, apiVersion: 'helm.toolkit.fluxcd.io/v2' }],
        inclusionList: ['.*succeeded.*'],
        exclusionList: ['^Dependencies'],
        eventMetadata: { cluster: 'prod' },
        summary: 'prod cluster',
        suspend: false,
      },
      status: {
        observedGeneration: 1,
        conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'Initialized', lastTransitionTime: '2024-01-01T00:00:00Z', observedGeneration: 1 }],
      },
    };
    expect(alert(full), errorText(alert.errors)).toBe(true);
  });

  it('rejects a bad Provider (unknown type) and a bad Alert, naming the field', () => {
    const provider = structuredClone(examples.find((o) => o.kind === 'Provider') as K8sObject);
    (provider.spec as Obj).type = 'carrier-pigeon';
    const validate = specValidator('providers');
    expect(validate(provider)).toBe(false);
    expect(errorText(validate.errors)).toContain('/spec/type must be equal to one of the allowed values');

    const alert = structuredClone(examples.find((o) => o.kind === 'Alert') as K8sObject);
    const spec = alert.spec as { eventSources: Obj[]; eventSeverity: string; severity?: string };
    spec.eventSources.push({ kind: 'Deployment', name: 'web' });
    spec.eventSeverity = 'warning';
    const validateAlert = specValidator('alerts');
    expect(validateAlert(alert)).toBe(false);
    const text = errorText(validateAlert.errors);
    expect(text).toContain('/spec/eventSources/2/kind must be equal to one of the allowed values');
    expect(text).toContain('/spec/eventSeverity must be equal to one of the allowed values');

    const misspelt = structuredClone(examples.find((o) => o.kind === 'Provider') as K8sObject);
    (misspelt.spec as Obj).adress = 'http://x';
    expect(validate(misspelt)).toBe(false);
    expect(errorText(validate.errors)).toContain("/spec must NOT have additional properties 'adress'");
  });
});

describe('local stack files', () => {
  it('docker-compose.yml: Redis with AOF, Herald on the example manifests, and the demo sink beside it', () => {
    const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { command?: string[]; environment?: Record<string, string>; volumes?: string[]; network_mode?: string }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(['herald', 'redis', 'sink']);
    expect(compose.services.redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(compose.services.herald?.environment?.REDIS_URL).toBe('redis://redis:6379');
    expect(compose.services.herald?.volumes).toContain('./examples/manifests:/etc/herald:ro');
    // The sink shares Herald's network namespace, so the example Provider's 127.0.0.1:9999 works as under npm start.
    expect(compose.services.sink?.network_mode).toBe('service:herald');
    expect(readFileSync(join(ROOT, 'examples/manifests/demo.yaml'), 'utf8')).toContain('address: http://127.0.0.1:9999/flux');
  });

  it('Dockerfile: multi-stage, production dependencies only, numeric non-root user', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(final.match(/^COPY .*/gm)?.map((l) => l.split(/\s+/).at(-2))).toEqual(['/app/node_modules', '/app/dist/src', '/app/dist/providers', '/app/src/server/console', 'package.json']);
  });
});
