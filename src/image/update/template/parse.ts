/**
 * Lexer and parser for Go `text/template` syntax: text and `{{ }}` actions with trim markers
 * and comments, pipelines, variables, `if`/`else if`/`with`/`range` with `else`, `break`,
 * `continue`, `define`/`template`/`block`. Errors are `TemplateError`s naming the line,
 * in Go's `template: <name>:<line>: <message>` shape.
 */

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

export type Operand =
  | { type: 'field'; pos: number; names: string[] }
  | { type: 'chain'; pos: number; node: Operand; names: string[] }
  | { type: 'var'; pos: number; name: string; names: string[] }
  | { type: 'dot'; pos: number }
  | { type: 'ident'; pos: number; name: string }
  | { type: 'string'; pos: number; value: string }
  | { type: 'number'; pos: number; value: number }
  | { type: 'bool'; pos: number; value: boolean }
  | { type: 'nil'; pos: number }
  | { type: 'pipe'; pos: number; pipe: Pipe };

export interface Command {
  pos: number;
  args: Operand[];
}

export interface Pipe {
  pos: number;
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
}

export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pos: number; pipe: Pipe }
  | ControlNode
  | { type: 'template'; pos: number; name: string; pipe?: Pipe }
  | { type: 'break' | 'continue'; pos: number };

export interface ControlNode {
  type: 'if' | 'with' | 'range';
  pos: number;
  pipe: Pipe;
  list: Node[];
  elseList?: Node[];
}

export interface ParsedTemplate {
  name: string;
  source: string;
  root: Node[];
  /** `define`d and `block` templates by name. */
  defined: Map<string, Node[]>;
}

type TokenType =
  | 'text' | 'open' | 'close' | 'space' | 'ident' | 'keyword' | 'field' | 'var' | 'string' | 'number'
  | 'bool' | 'nil' | 'dot' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'eof';

interface Token {
  type: TokenType;
  pos: number;
  text: string;
  value?: string | number | boolean;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);
const SPACE = /[ \t\r\n]/;

export function lineOf(source: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < source.length; i++) if (source[i] === '\n') line++;
  return line;
}

/** `line:col` of a byte position, as Go's exec errors print it. */
export function lineColOf(source: string, pos: number): string {
  const before = source.slice(0, pos);
  const lineStart = before.lastIndexOf('\n') + 1;
  return `${lineOf(source, pos)}:${pos - lineStart}`;
}

class Lexer {
  readonly tokens: Token[] = [];
  private pos = 0;
  private trimNext = false;

  constructor(private readonly src: string, private readonly fail: (pos: number, msg: string) => never) {}

  run(): Token[] {
    while (this.pos < this.src.length) {
      const open = this.src.indexOf('{{', this.pos);
      const textEnd = open < 0 ? this.src.length : open;
      let text = this.src.slice(this.pos, textEnd);
      if (this.trimNext) text = text.replace(/^[ \t\r\n]+/, '');
      this.trimNext = false;
      const trimLeft = open >= 0 && this.src[open + 2] === '-' && SPACE.test(this.src[open + 3] ?? '');
      if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
      if (text) this.tokens.push({ type: 'text', pos: this.pos, text });
      if (open < 0) break;
      this.pos = open + 2 + (trimLeft ? 2 : 0);
      this.action(open);
    }
    this.tokens.push({ type: 'eof', pos: this.src.length, text: '' });
    return this.tokens;
  }

  private closeAt(i: number): { trim: boolean; len: number } | undefined {
    if (this.src.startsWith('}}', i)) return { trim: false, len: 2 };
    if (SPACE.test(this.src[i] ?? '') && this.src.startsWith('-}}', i + 1)) return { trim: true, len: 4 };
    return undefined;
  }

  private action(openPos: number): void {
    if (this.src.startsWith('/*', this.pos)) {
      const end = this.src.indexOf('*/', this.pos + 2);
      if (end < 0) this.fail(openPos, 'unclosed comment');
      const close = this.closeAt(end + 2);
      if (!close) this.fail(openPos, 'comment ends before closing delimiter');
      this.trimNext = close.trim;
      this.pos = end + 2 + close.len;
      return;
    }
    this.tokens.push({ type: 'open', pos: openPos, text: '{{' });
    let parens = 0;
    for (;;) {
      const close = this.closeAt(this.pos);
      if (close && parens === 0) {
        if (close.trim) this.tokens.push({ type: 'space', pos: this.pos, text: ' ' });
        this.tokens.push({ type: 'close', pos: this.pos, text: '}}' });
        this.trimNext = close.trim;
        this.pos += close.len;
        return;
      }
      const c = this.src[this.pos];
      if (c === undefined) this.fail(openPos, 'unclosed action');
      const start = this.pos;
      if (SPACE.test(c)) {
        while (SPACE.test(this.src[this.pos] ?? '') && !this.closeAt(this.pos)?.trim) this.pos++;
        this.tokens.push({ type: 'space', pos: start, text: ' ' });
      } else if (c === '|') this.single('pipe');
      else if (c === '(') { parens++; this.single('lparen'); }
      else if (c === ')') {
        if (parens === 0) this.fail(start, 'unexpected right paren');
        parens--;
        this.single('rparen');
      } else if (c === ',') this.single('comma');
      else if (c === '=') this.single('assign');
      else if (c === ':') {
        if (this.src[this.pos + 1] !== '=') this.fail(start, 'expected :=');
        this.pos += 2;
        this.tokens.push({ type: 'declare', pos: start, text: ':=' });
      } else if (c === '"') this.quoted(start);
      else if (c === '`') {
        const end = this.src.indexOf('`', this.pos + 1);
        if (end < 0) this.fail(start, 'unterminated raw quoted string');
        this.pos = end + 1;
        this.tokens.push({ type: 'string', pos: start, text: this.src.slice(start, this.pos), value: this.src.slice(start + 1, end) });
      } else if (c === "'") this.char(start);
      else if (c === '$') {
        this.pos++;
        this.word();
        this.tokens.push({ type: 'var', pos: start, text: this.src.slice(start, this.pos) });
      } else if (c === '.') {
        if (/[0-9]/.test(this.src[this.pos + 1] ?? '')) this.number(start);
        else {
          this.pos++;
          const nameStart = this.pos;
          this.word();
          const text = this.src.slice(start, this.pos);
          this.tokens.push({ type: this.pos === nameStart ? 'dot' : 'field', pos: start, text });
        }
      } else if (/[0-9+-]/.test(c)) this.number(start);
      else if (/[\p{L}_]/u.test(c)) {
        this.word();
        const text = this.src.slice(start, this.pos);
        const type: TokenType = KEYWORDS.has(text) ? 'keyword' : text === 'true' || text === 'false' ? 'bool' : text === 'nil' ? 'nil' : 'ident';
        this.tokens.push({ type, pos: start, text, value: type === 'bool' ? text === 'true' : undefined });
      } else this.fail(start, `unexpected ${JSON.stringify(c)} in command`);
    }
  }

  private single(type: TokenType): void {
    this.tokens.push({ type, pos: this.pos, text: this.src[this.pos] as string });
    this.pos++;
  }

  private word(): void {
    while (/[\p{L}\p{N}_]/u.test(this.src[this.pos] ?? '')) this.pos++;
  }

  private number(start: number): void {
    const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(this.src.slice(start));
    const text = m?.[0] ?? '';
    const body = text.replace(/_/g, '');
    let value = Number(body);
    if (/^[+-]?0[0-7]+$/.test(body)) value = parseInt(body, 8);
    if (!text || !/[0-9]/.test(text) || Number.isNaN(value) || /[\p{L}_.]/u.test(this.src[start + text.length] ?? '')) {
      this.fail(start, `bad number syntax: ${JSON.stringify(this.src.slice(start, start + Math.max(text.length, 1)))}`);
    }
    this.pos = start + text.length;
    this.tokens.push({ type: 'number', pos: start, text, value });
  }

  private quoted(start: number): void {
    let i = start + 1;
    for (;;) {
      const c = this.src[i];
      if (c === undefined || c === '\n') this.fail(start, 'unterminated quoted string');
      if (c === '\\') i += 2;
      else if (c === '"') break;
      else i++;
    }
    this.pos = i + 1;
    const text = this.src.slice(start, this.pos);
    this.tokens.push({ type: 'string', pos: start, text, value: unquoteGo(text.slice(1, -1), () => this.fail(start, `invalid syntax: ${text}`)) });
  }

  private char(start: number): void {
    let i = start + 1;
    while (i < this.src.length && this.src[i] !== "'" && this.src[i] !== '\n') i += this.src[i] === '\\' ? 2 : 1;
    if (this.src[i] !== "'") this.fail(start, 'unterminated character constant');
    this.pos = i + 1;
    const text = this.src.slice(start, this.pos);
    const decoded = unquoteGo(text.slice(1, -1), () => this.fail(start, `malformed character constant: ${text}`));
    if ([...decoded].length !== 1) this.fail(start, `malformed character constant: ${text}`);
    this.tokens.push({ type: 'number', pos: start, text, value: decoded.codePointAt(0) as number });
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

/** Go's escape sequences in interpreted strings. */
function unquoteGo(body: string, bad: () => never): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') { out += c; continue; }
    const e = body[++i];
    if (e === undefined) bad();
    if (e in SIMPLE_ESCAPES) { out += SIMPLE_ESCAPES[e]; continue; }
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLen) {
      const hex = body.slice(i + 1, i + 1 + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(hex)) bad();
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) bad();
      out += String.fromCodePoint(cp);
      i += hexLen;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) bad();
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else bad();
  }
  return out;
}

class Parser {
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  readonly defined = new Map<string, Node[]>();

  constructor(
    private readonly name: string,
    private readonly src: string,
    private readonly tokens: Token[],
    private readonly functions: ReadonlySet<string>,
  ) {}

  fail(pos: number, msg: string): never {
    throw new TemplateError(`template: ${this.name}:${lineOf(this.src, pos)}: ${msg}`);
  }

  private peek(): Token {
    return this.tokens[this.i] as Token;
  }

  private next(): Token {
    return this.tokens[this.i++] as Token;
  }

  private peekNonSpace(): Token {
    while (this.peek().type === 'space') this.i++;
    return this.peek();
  }

  private nextNonSpace(): Token {
    this.peekNonSpace();
    return this.next();
  }

  private describe(t: Token): string {
    if (t.type === 'close') return '<}}>';
    if (t.type === 'eof') return 'EOF';
    return JSON.stringify(t.text);
  }

  parseRoot(): Node[] {
    const { list, end } = this.itemList(true);
    if (end) this.fail(end.pos, `unexpected {{${end.text}}}`);
    return list;
  }

  /** Nodes up to `{{end}}`/`{{else}}` (returned, consumed up to the keyword) or EOF. */
  private itemList(topLevel: boolean): { list: Node[]; end?: Token } {
    const list: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.type === 'eof') {
        if (!topLevel) this.fail(t.pos, 'unexpected EOF');
        return { list };
      }
      if (t.type === 'text') { list.push({ type: 'text', text: t.text }); continue; }
      // t.type === 'open'
      const first = this.peekNonSpace();
      if (first.type === 'keyword') {
        this.next();
        switch (first.text) {
          case 'end':
          case 'else':
            if (topLevel) this.fail(first.pos, `unexpected {{${first.text}}}`);
            return { list, end: first };
          case 'if':
          case 'with':
          case 'range':
            list.push(this.control(first.text, first.pos));
            continue;
          case 'break':
          case 'continue':
            if (this.rangeDepth === 0) this.fail(first.pos, `{{${first.text}}} outside {{range}}`);
            this.expectClose(first.text);
            list.push({ type: first.text, pos: first.pos });
            continue;
          case 'template':
            list.push(this.templateCall(first.pos));
            continue;
          case 'define':
          case 'block':
            if (!topLevel && first.text === 'define') this.fail(first.pos, 'unexpected <define> in command');
            list.push(...this.defineOrBlock(first.text, first.pos));
            continue;
        }
      }
      const pipe = this.pipeline('command', true);
      list.push({ type: 'action', pos: t.pos, pipe });
    }
  }

  private expectClose(context: string): void {
    const t = this.nextNonSpace();
    if (t.type !== 'close') this.fail(t.pos, `unexpected ${this.describe(t)} in ${context}`);
  }

  private control(kind: 'if' | 'with' | 'range', pos: number): Node {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, true);
    if (kind === 'range') this.rangeDepth++;
    const body = this.itemList(false);
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | undefined;
    if (body.end?.text === 'else') {
      const chained = this.peekNonSpace();
      if ((chained.type === 'keyword') && ((kind === 'if' && chained.text === 'if') || (kind === 'with' && chained.text === 'with'))) {
        // `{{else if …}}` is a nested `if` whose `{{end}}` closes both.
        this.next();
        elseList = [this.control(kind, chained.pos)];
      } else {
        this.expectClose('else');
        const rest = this.itemList(false);
        if (rest.end?.text !== 'end') this.fail(rest.end?.pos ?? pos, 'expected end; found {{else}}');
        this.expectClose('end');
        elseList = rest.list;
      }
    } else {
      this.expectClose('end');
    }
    this.vars.length = mark;
    return { type: kind, pos, pipe, list: body.list, elseList };
  }

  private templateName(context: string): string {
    const t = this.nextNonSpace();
    if (t.type !== 'string') this.fail(t.pos, `unexpected ${this.describe(t)} in ${context} clause`);
    return t.value as string;
  }

  private templateCall(pos: number): Node {
    const name = this.templateName('template');
    if (this.peekNonSpace().type === 'close') {
      this.next();
      return { type: 'template', pos, name };
    }
    return { type: 'template', pos, name, pipe: this.pipeline('template', false) };
  }

  private defineOrBlock(kind: string, pos: number): Node[] {
    const name = this.templateName(kind);
    let call: Node[] = [];
    if (kind === 'block') {
      call = [{ type: 'template', pos, name, pipe: this.pipeline('block', false) }];
    } else this.expectClose('define');
    const saved = this.vars;
    this.vars = ['$'];
    const body = this.itemList(false);
    if (body.end?.text !== 'end') this.fail(body.end?.pos ?? pos, `unexpected {{else}} in ${kind}`);
    this.expectClose('end');
    this.vars = saved;
    this.defined.set(name, body.list);
    return call;
  }

  private pipeline(context: string, allowDecl: boolean): Pipe {
    const start = this.peekNonSpace();
    const pipe: Pipe = { pos: start.pos, decl: [], isAssign: false, cmds: [] };
    if (allowDecl && start.type === 'var') {
      const save = this.i;
      const names: string[] = [];
      for (;;) {
        const v = this.nextNonSpace();
        if (v.type !== 'var') { this.i = save; break; }
        names.push(v.text);
        const op = this.nextNonSpace();
        if (op.type === 'declare' || op.type === 'assign') {
          if (op.type === 'assign') {
            for (const n of names) if (!this.vars.includes(n)) this.fail(v.pos, `undefined variable ${JSON.stringify(n)}`);
          } else this.vars.push(...names);
          if (names.length > 1 && context !== 'range') this.fail(v.pos, `too many declarations in ${context}`);
          if (names.length > 2) this.fail(v.pos, 'too many declarations in range');
          pipe.decl = names;
          pipe.isAssign = op.type === 'assign';
          break;
        }
        if (op.type === 'comma' && context === 'range' && names.length === 1) continue;
        this.i = save;
        break;
      }
    }
    for (;;) {
      const t = this.peekNonSpace();
      if (t.type === 'close' || t.type === 'rparen') {
        if (t.type === 'rparen' && context !== 'paren') this.fail(t.pos, `unexpected ${this.describe(t)} in ${context}`);
        if (t.type === 'close' && context === 'paren') this.fail(t.pos, 'unclosed left paren');
        this.next();
        if (pipe.cmds.length === 0) this.fail(t.pos, `missing value for ${context}`);
        return pipe;
      }
      pipe.cmds.push(this.command(context));
      const sep = this.peekNonSpace();
      if (sep.type === 'pipe') this.next();
    }
  }

  private command(context: string): Command {
    const cmd: Command = { pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      const t = this.peekNonSpace();
      if (t.type === 'close' || t.type === 'rparen' || t.type === 'pipe') break;
      cmd.args.push(this.operand(context));
    }
    if (cmd.args.length === 0) this.fail(cmd.pos, 'missing value for command');
    return cmd;
  }

  private operand(context: string): Operand {
    const t = this.next();
    let node: Operand;
    switch (t.type) {
      case 'ident':
        if (!this.functions.has(t.text)) this.fail(t.pos, `function ${JSON.stringify(t.text)} not defined`);
        node = { type: 'ident', pos: t.pos, name: t.text };
        break;
      case 'dot': node = { type: 'dot', pos: t.pos }; break;
      case 'nil': node = { type: 'nil', pos: t.pos }; break;
      case 'bool': node = { type: 'bool', pos: t.pos, value: t.value as boolean }; break;
      case 'number': node = { type: 'number', pos: t.pos, value: t.value as number }; break;
      case 'string': node = { type: 'string', pos: t.pos, value: t.value as string }; break;
      case 'field': node = { type: 'field', pos: t.pos, names: t.text.slice(1).split('.') }; break;
      case 'var': {
        const [name, ...names] = t.text.split('.') as [string, ...string[]];
        if (!this.vars.includes(name)) this.fail(t.pos, `undefined variable ${JSON.stringify(name)}`);
        node = { type: 'var', pos: t.pos, name, names };
        break;
      }
      case 'lparen': node = { type: 'pipe', pos: t.pos, pipe: this.pipeline('paren', false) }; break;
      default:
        this.fail(t.pos, `unexpected ${this.describe(t)} in ${context}`);
    }
    // A field chain right after a term: `(…).X`, `$x.Y` already split, `.A.B` lexed whole.
    const names: string[] = [];
    while (this.peek().type === 'field') names.push(...this.next().text.slice(1).split('.'));
    if (this.peek().type === 'dot') this.fail(this.peek().pos, 'unexpected . after term');
    if (names.length === 0) return node;
    if (node.type === 'field' || node.type === 'var') return { ...node, names: [...node.names, ...names] };
    if (node.type !== 'pipe') this.fail(node.pos, `unexpected . after term`);
    return { type: 'chain', pos: node.pos, node, names };
  }
}

export function parseTemplate(name: string, source: string, functions: ReadonlySet<string>): ParsedTemplate {
  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(`template: ${name}:${lineOf(source, pos)}: ${msg}`);
  };
  const tokens = new Lexer(source, fail).run();
  const parser = new Parser(name, source, tokens, functions);
  const root = parser.parseRoot();
  return { name, source, root, defined: parser.defined };
}
