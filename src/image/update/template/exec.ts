/**
 * Executes a parsed template over the Go value model with text/template's semantics:
 * pipelines pass their value as the last argument, variables are scoped to their control
 * structure, `range` walks slices in order and maps in sorted key order, a missing map key
 * is `<no value>`, an unknown struct field is an error. Work and output are bounded.
 */
import { TemplateError, lineColOf, type Command, type ControlNode, type Node, type Operand, type ParsedTemplate, type Pipe } from './parse.js';
import { GoMap, GoStruct, NO_VALUE, formatValue, isMap, isPlainObject, isTrue, mapEntries, typeName } from './values.js';

export type Param = 'any' | 'string' | 'int' | 'bool';

export interface FuncDef {
  params: readonly Param[];
  variadic?: Param;
  fn: (...args: never[]) => unknown;
}

export interface ExecLimits {
  /** Bytes of output; a commit message has no business being larger. */
  maxOutput: number;
  /** Nodes and function calls evaluated, so `range (until 100000000)` ends. */
  maxSteps: number;
  /** Nested `template` calls. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: ExecLimits = { maxOutput: 1 << 20, maxSteps: 1_000_000, maxDepth: 100 };

const NOT_SET: unique symbol = Symbol('not set');
type Final = unknown | typeof NOT_SET;

class BreakSignal {}
class ContinueSignal {}

/** A Go error raised by a function or method; exec wraps it with the position. */
export class FuncError extends Error {}

export function execute(tmpl: ParsedTemplate, data: unknown, funcs: ReadonlyMap<string, FuncDef>, limits: ExecLimits = DEFAULT_LIMITS): string {
  const state = new State(tmpl, funcs, limits);
  state.vars.push({ name: '$', value: data });
  state.walk(data, tmpl.root);
  return state.out.join('');
}

function operandText(op: Operand): string {
  switch (op.type) {
    case 'field': return `.${op.names.join('.')}`;
    case 'chain': return `(${pipeText(op.node.type === 'pipe' ? op.node.pipe : undefined)}).${op.names.join('.')}`;
    case 'var': return [op.name, ...op.names].join('.');
    case 'dot': return '.';
    case 'ident': return op.name;
    case 'string': return JSON.stringify(op.value);
    case 'number': return String(op.value);
    case 'bool': return String(op.value);
    case 'nil': return 'nil';
    case 'pipe': return `(${pipeText(op.pipe)})`;
  }
}

function pipeText(pipe: Pipe | undefined): string {
  if (!pipe) return '';
  const decl = pipe.decl.length ? `${pipe.decl.join(', ')} ${pipe.isAssign ? '=' : ':='} ` : '';
  return decl + pipe.cmds.map((c) => c.args.map(operandText).join(' ')).join(' | ');
}

class State {
  readonly out: string[] = [];
  readonly vars: Array<{ name: string; value: unknown }> = [];
  private outLength = 0;
  private steps = 0;
  private depth = 0;
  private at: { pos: number; text: string } = { pos: 0, text: '' };

  constructor(
    private readonly tmpl: ParsedTemplate,
    private readonly funcs: ReadonlyMap<string, FuncDef>,
    private readonly limits: ExecLimits,
  ) {}

  private fail(msg: string): never {
    const where = lineColOf(this.tmpl.source, this.at.pos);
    throw new TemplateError(`template: ${this.tmpl.name}:${where}: executing ${JSON.stringify(this.tmpl.name)} at <${this.at.text}>: ${msg}`);
  }

  private step(): void {
    if (++this.steps > this.limits.maxSteps) this.fail(`template exceeds ${this.limits.maxSteps} evaluation steps`);
  }

  private write(s: string): void {
    this.outLength += Buffer.byteLength(s);
    if (this.outLength > this.limits.maxOutput) this.fail(`output exceeds ${this.limits.maxOutput} bytes`);
    this.out.push(s);
  }

  walk(dot: unknown, nodes: readonly Node[]): void {
    for (const node of nodes) {
      this.step();
      switch (node.type) {
        case 'text':
          this.write(node.text);
          break;
        case 'action': {
          const value = this.evalPipeline(dot, node.pipe);
          if (node.pipe.decl.length === 0) this.write(formatValue(value));
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const value = this.evalPipeline(dot, node.pipe);
          if (isTrue(value)) this.walk(node.type === 'with' ? value : dot, node.list);
          else if (node.elseList) this.walk(dot, node.elseList);
          this.vars.length = mark;
          break;
        }
        case 'range':
          this.walkRange(dot, node);
          break;
        case 'template':
          this.walkTemplate(dot, node);
          break;
        case 'break':
          throw new BreakSignal();
        case 'continue':
          throw new ContinueSignal();
      }
    }
  }

  private walkRange(dot: unknown, node: ControlNode): void {
    const mark = this.vars.length;
    const value = this.evalPipeline(dot, { ...node.pipe, decl: [] });
    const [first, second] = node.pipe.decl;
    const iterations: Array<[unknown, unknown]> = [];
    if (Array.isArray(value)) value.forEach((e, i) => iterations.push([i, e]));
    else if (isMap(value)) iterations.push(...mapEntries(value));
    else if (typeof value === 'number' && Number.isInteger(value)) {
      if (second) this.fail(`can't use ${value} to iterate over more than one variable`);
      for (let i = 0; i < value; i++) iterations.push([i, i]);
    } else if (value !== NO_VALUE && value !== null && value !== undefined) {
      this.fail(`range can't iterate over ${formatValue(value)}`);
    }
    if (iterations.length === 0) {
      if (node.elseList) this.walk(dot, node.elseList);
      this.vars.length = mark;
      return;
    }
    for (const [key, elem] of iterations) {
      this.step();
      this.vars.length = mark;
      // One variable gets the element; two get the key (or index) and the element.
      if (first && second) this.vars.push({ name: first, value: key }, { name: second, value: elem });
      else if (first) {
        if (node.pipe.isAssign) this.setVar(first, elem);
        else this.vars.push({ name: first, value: elem });
      }
      try {
        this.walk(elem, node.list);
      } catch (e) {
        if (e instanceof BreakSignal) break;
        if (!(e instanceof ContinueSignal)) throw e;
      }
    }
    this.vars.length = mark;
  }

  private walkTemplate(dot: unknown, node: Extract<Node, { type: 'template' }>): void {
    this.at = { pos: node.pos, text: `template ${JSON.stringify(node.name)}` };
    const body = this.tmpl.defined.get(node.name);
    if (!body) this.fail(`template: no template ${JSON.stringify(node.name)} associated with template ${JSON.stringify(this.tmpl.name)}`);
    if (this.depth >= this.limits.maxDepth) this.fail(`exceeded maximum template depth (${this.limits.maxDepth})`);
    const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : null;
    const saved = this.vars.splice(0);
    this.vars.push({ name: '$', value: newDot });
    this.depth++;
    try {
      this.walk(newDot, body);
    } finally {
      this.depth--;
      this.vars.splice(0, this.vars.length, ...saved);
    }
  }

  private evalPipeline(dot: unknown, pipe: Pipe): unknown {
    let value: Final = NOT_SET;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    // A nil interface{} becomes "no value", as text/template's evalPipeline does.
    if (value === null || value === undefined) value = NO_VALUE;
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, value);
      else this.vars.push({ name, value });
    }
    return value;
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as { name: string; value: unknown };
      if (v.name === name) { v.value = value; return; }
    }
    this.fail(`undefined variable: ${name}`);
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as { name: string; value: unknown };
      if (v.name === name) return v.value;
    }
    this.fail(`undefined variable: ${name}`);
  }

  private evalCommand(dot: unknown, cmd: Command, final: Final): unknown {
    const [first] = cmd.args as [Operand, ...Operand[]];
    this.at = { pos: first.pos, text: operandText(first) };
    switch (first.type) {
      case 'field':
        return this.evalFieldChain(dot, dot, first.names, cmd.args, final);
      case 'chain':
        return this.evalFieldChain(dot, this.evalArg(dot, first.node), first.names, cmd.args, final);
      case 'var':
        if (first.names.length > 0) return this.evalFieldChain(dot, this.varValue(first.name), first.names, cmd.args, final);
        this.notAFunction(cmd.args, final);
        return this.varValue(first.name);
      case 'ident':
        return this.evalFunction(dot, first.name, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
      case 'nil':
        this.fail('nil is not a command');
      default:
        this.notAFunction(cmd.args, final);
        return this.evalArg(dot, first);
    }
  }

  private notAFunction(args: readonly Operand[], final: Final): void {
    if (args.length > 1 || final !== NOT_SET) this.fail(`can't give argument to non-function ${operandText(args[0] as Operand)}`);
  }

  private evalArg(dot: unknown, op: Operand): unknown {
    this.step();
    switch (op.type) {
      case 'dot': return dot;
      case 'nil': return null;
      case 'bool':
      case 'number':
      case 'string':
        return op.value;
      case 'field': return this.evalFieldChain(dot, dot, op.names, [op], NOT_SET);
      case 'chain': return this.evalFieldChain(dot, this.evalArg(dot, op.node), op.names, [op], NOT_SET);
      case 'var': {
        const base = this.varValue(op.name);
        return op.names.length ? this.evalFieldChain(dot, base, op.names, [op], NOT_SET) : base;
      }
      case 'pipe': return this.evalPipeline(dot, op.pipe);
      case 'ident': return this.evalFunction(dot, op.name, [op], NOT_SET);
    }
  }

  private evalFieldChain(dot: unknown, receiver: unknown, names: readonly string[], args: readonly Operand[], final: Final): unknown {
    let value = receiver;
    names.forEach((name, i) => {
      const last = i === names.length - 1;
      value = this.evalField(dot, name, value, last ? args : [], last ? final : NOT_SET);
    });
    return value;
  }

  private evalField(dot: unknown, name: string, receiver: unknown, args: readonly Operand[], final: Final): unknown {
    this.step();
    const hasArgs = args.length > 1 || final !== NOT_SET;
    if (receiver === NO_VALUE) return NO_VALUE;
    if (receiver instanceof GoStruct) {
      const method = receiver.options.methods?.[name];
      if (method) {
        const callArgs = args.slice(1).map((a) => this.evalArg(dot, a));
        if (final !== NOT_SET) callArgs.push(final);
        if (callArgs.length !== method.length) this.fail(`wrong number of args for ${name}: want ${method.length} got ${callArgs.length}`);
        return method(...callArgs);
      }
      if (Object.hasOwn(receiver.fields, name)) {
        if (hasArgs) this.fail(`${name} has arguments but cannot be invoked as function`);
        return receiver.fields[name];
      }
      this.fail(`can't evaluate field ${name} in type ${receiver.typeName}`);
    }
    if (receiver instanceof GoMap || isPlainObject(receiver)) {
      if (hasArgs) this.fail(`${name} is not a method but has arguments`);
      if (receiver instanceof GoMap) return receiver.get(name);
      return Object.hasOwn(receiver, name) ? receiver[name] : NO_VALUE;
    }
    if (receiver === null || receiver === undefined) this.fail(`nil pointer evaluating interface {}.${name}`);
    this.fail(`can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  private evalFunction(dot: unknown, name: string, args: readonly Operand[], final: Final): unknown {
    this.step();
    const operands = args.slice(1);
    if (name === 'and' || name === 'or') {
      // Go 1.18+: evaluation stops at the first argument that decides the result.
      const all: Array<() => unknown> = operands.map((op) => () => this.evalArg(dot, op));
      if (final !== NOT_SET) all.push(() => final);
      if (all.length === 0) this.fail(`wrong number of args for ${name}: want at least 1 got 0`);
      let value: unknown = NO_VALUE;
      for (const get of all) {
        value = get();
        if (isTrue(value) === (name === 'or')) return value;
      }
      return value;
    }
    const def = this.funcs.get(name);
    if (!def) this.fail(`${JSON.stringify(name)} is not a defined function`);
    const values = operands.map((op) => this.evalArg(dot, op));
    if (final !== NOT_SET) values.push(final);
    const fixed = def.params.length;
    if (def.variadic ? values.length < fixed : values.length !== fixed) {
      this.fail(`wrong number of args for ${name}: want ${def.variadic ? 'at least ' : ''}${fixed} got ${values.length}`);
    }
    const converted = values.map((v, i) => this.convert(v, (def.params[i] ?? def.variadic) as Param));
    this.at = { pos: args[0]?.pos ?? this.at.pos, text: name };
    try {
      return (def.fn as (...a: unknown[]) => unknown)(...converted);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      this.fail(`error calling ${name}: ${(e as Error).message}`);
    }
  }

  /** Go's argument type check for a function parameter. */
  private convert(v: unknown, param: Param): unknown {
    if (param === 'any') return v === NO_VALUE || v === undefined ? null : v;
    const goType = param === 'int' ? 'int' : param;
    if (v === NO_VALUE || v === null || v === undefined) this.fail(`invalid value; expected ${goType}`);
    const ok = param === 'string' ? typeof v === 'string'
      : param === 'bool' ? typeof v === 'boolean'
        : typeof v === 'number' && Number.isInteger(v);
    if (!ok) this.fail(`wrong type for value; expected ${goType}; got ${typeName(v)}`);
    return v;
  }
}
