/**
 * The Go text/template interpreter, byte for byte: syntax, Go's exec semantics, fmt verbs,
 * the sprig functions, Flux's documented commit message templates over Flux-shaped data,
 * and errors (with position, never a crash).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GoMap, TemplateError, compileTemplate, renderTemplate, runTemplate } from '../../src/image/update/template/index.js';
import { templateData, type UpdateResult } from '../../src/image/update/result.js';

const result: UpdateResult = {
  files: [
    {
      file: 'deploy.yaml',
      objects: [
        {
          object: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo', namespace: 'default' },
          changes: [{ oldValue: 'ghcr.io/stefanprodan/podinfo:5.0.0', newValue: 'ghcr.io/stefanprodan/podinfo:5.0.3', setter: 'flux-system:podinfo' }],
        },
      ],
    },
  ],
};
const flux = templateData({ namespace: 'flux-system', name: 'podinfo-update' }, result, { cluster: 'prod' });

const plain = {
  L: ['a', 'b', 'c'],
  M: { b: 2, a: 1, '10': 3 },
  Empty: [],
  Values: new GoMap('map[string]string', '', [['cluster', 'prod']]),
};

describe('syntax and semantics', () => {
  it.each([
    ['text only', 'hello\n', 'hello\n'],
    ['trim markers trim spaces', 'a  {{- "b" -}}  c', 'abc'],
    ['trim markers trim newlines', 'a\n\n{{- 1 }}\n', 'a1\n'],
    ['comment', '{{/* a comment */}}x', 'x'],
    ['trimmed comment', 'a {{- /* c */ -}} b', 'ab'],
    ['a minus sign is no trim marker', '{{-3}}', '-3'],
    ['declare and assign', '{{ $x := "a" }}{{ $x = "b" }}{{ $x }}', 'b'],
    ['if / else if / else', '{{ if eq 1 2 }}a{{ else if eq 1 1 }}b{{ else }}c{{ end }}', 'b'],
    ['range with index', '{{ range $i, $e := .L }}{{ $i }}={{ $e }};{{ end }}', '0=a;1=b;2=c;'],
    ['range one variable gets the element', '{{ range $e := .L }}{{ $e }}{{ end }}', 'abc'],
    ['range map in sorted key order', '{{ range $k, $v := .M }}{{ $k }}:{{ $v }} {{ end }}', '10:3 a:1 b:2 '],
    ['range else', '{{ range .Empty }}x{{ else }}none{{ end }}', 'none'],
    ['range int', '{{ range $i := 3 }}{{ $i }}{{ end }}', '012'],
    ['break', '{{ range .L }}{{ if eq . "b" }}{{ break }}{{ end }}{{ . }}{{ end }}', 'a'],
    ['continue', '{{ range .L }}{{ if eq . "b" }}{{ continue }}{{ end }}{{ . }}{{ end }}', 'ac'],
    ['variables scoped to their block', '{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}', '21'],
    ['with', '{{ with .Values.cluster }}cluster={{ . }}{{ end }}', 'cluster=prod'],
    ['with else', '{{ with .Values.missing }}x{{ else }}none{{ end }}', 'none'],
    ['else with', '{{ with .Values.missing }}x{{ else with .Values.cluster }}{{ . }}{{ end }}', 'prod'],
    ['trim around else', '{{ if false }}a{{- else -}}  b  {{- end }}', 'b'],
    ['nested define is refused', '{{ if true }}{{ define "x" }}{{ end }}{{ end }}', null],
    ['missing map key', '{{ .Values.missing }}', '<no value>'],
    ['index of a missing key is the zero value', '[{{ index .Values "missing" }}]', '[]'],
    ['field of a missing value', '{{ .Nope.Deeper }}', '<no value>'],
    ['$ is the data', '{{ range .L }}{{ $.Values.cluster }}{{ end }}', 'prodprodprod'],
    ['pipeline', '{{ "Hello" | upper | printf "%s!" }}', 'HELLO!'],
    ['parenthesised field access', '{{ (split "/" "a/b/c")._1 }}', 'b'],
    ['define and template', '{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" "a" }}', '[a]'],
    ['block', '{{ block "y" "b" }}({{ . }}){{ end }}', '(b)'],
    ['and / or return an operand', '{{ and 1 0 }} {{ or 0 "" "x" }} {{ not true }}', '0 x false'],
    ['and stops early', '{{ and false (index .L 10) }}', 'false'],
    ['slice', '{{ slice "abcdef" 1 3 }} {{ slice .L 1 }} {{ slice "abc" }}', 'bc [b c] abc'],
    ['len counts bytes', '{{ len "héllo" }} {{ len .L }} {{ len .M }}', '6 3 3'],
    ['comparisons', '{{ lt 1 2 }} {{ ge "b" "a" }} {{ ne "a" "a" }} {{ eq "a" "b" "a" }}', 'true true false true'],
    ['print spacing', '{{ print "a" 1 2 "b" }}|{{ println 1 "a" }}', 'a1 2b|1 a\n'],
    ['slice printing', '{{ .L }} {{ .M }}', '[a b c] map[10:3 a:1 b:2]'],
    ['string escapes', '{{ "a\\tb\\u00e9" }}{{ `raw\\n` }}', 'a\tbéraw\\n'],
    ['char constant', "{{ printf \"%c\" 'x' }}", 'x'],
  ])('%s', (_name, source, expected) => {
    if (expected === null) expect(() => renderTemplate(source, plain)).toThrow(TemplateError);
    else expect(renderTemplate(source, plain)).toBe(expected);
  });
});

describe('printf', () => {
  it.each([
    ['%s|%d|%v|%q|%x', '"s" 42 true "q" 255', 's|42|true|"q"|ff'],
    ['%5s|%-5s|%05d|%.2f|%t', '"r" "l" 42 3.14159 false', '    r|l    |00042|3.14|false'],
    ['%x %X', '"hi" "hi"', '6869 6869'],
    ['%q', '"a\\"b\\n"', '"a\\"b\\n"'],
    ['%v %v', '1.5 "x"', '1.5 x'],
    ['%d %d', '1', '1 %!d(MISSING)'],
    ['%d', '"x"', '%!d(string=x)'],
    ['a', '1', 'a%!(EXTRA int=1)'],
    ['100%%', '', '100%'],
    ['%T %T', '"a" 1', 'string int'],
  ])('printf %s', (format, args, expected) => {
    expect(renderTemplate(`{{ printf "${format}" ${args} }}`, plain)).toBe(expected);
  });
});

describe('sprig functions', () => {
  it.each([
    ['{{ title "hello world-foo_bar" }}', 'Hello World-Foo_bar'],
    ['{{ upper "abc" }} {{ lower "ABC" }} {{ trim "  x  " }}', 'ABC abc x'],
    ['{{ trimPrefix "v" "v1.2" }} {{ trimSuffix ".yaml" "a.yaml" }} {{ trimAll "-" "--a--" }}', '1.2 a a'],
    ['{{ replace "." "-" "1.2.3" }}', '1-2-3'],
    ['{{ join ", " (list "a" "b") }}', 'a, b'],
    ['{{ default "dflt" .Values.missing }} {{ .Values.cluster | default "x" }} {{ default "d" "" }}', 'dflt prod d'],
    ['{{ quote "a\\"b" 1 }} {{ squote "a" }}', '"a\\"b" "1" \'a\''],
    ['{{ indent 2 "a\\nb" }}|{{ nindent 2 "a" }}', '  a\n  b|\n  a'],
    ['{{ trunc 3 "abcdef" }} {{ trunc -2 "abcdef" }} {{ substr 1 3 "abcdef" }}', 'abc ef bc'],
    ['{{ contains "b" "abc" }} {{ hasPrefix "a" "abc" }} {{ hasSuffix "a" "abc" }}', 'true true false'],
    ['{{ toJson .Values }} {{ toJson .M }} {{ toJson "<&>" }}', '{"cluster":"prod"} {"10":3,"a":1,"b":2} "\\u003c\\u0026\\u003e"'],
    ['{{ sha256sum "abc" }}', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['{{ sha1sum "abc" }} {{ b64enc "hi" }} {{ b64dec "aGk=" }}', 'a9993e364706816aba3e25717850c26c9cd0d89d aGk= hi'],
    ['{{ nospace "a b c" }} {{ splitList "," "a,b" | last }} {{ splitList "," "a,b" | first }}', 'abc b a'],
    ['{{ sortAlpha (list "b" "a") }} {{ uniq (list "a" "a" "b") }} {{ reverse .L }}', '[a b] [a b] [c b a]'],
    ['{{ empty "" }} {{ empty .L }} {{ toString 5 }} {{ cat "a" 1 }}', 'true false 5 a 1'],
    ['{{ $d := dict "a" 1 "b" "x" }}{{ $d.b }} {{ get $d "a" }} {{ hasKey $d "c" }} {{ keys $d }}', 'x 1 false [a b]'],
    ['{{ add 1 2 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }} {{ mod 7 2 }} {{ max 1 5 3 }}', '3 3 6 3 1 5'],
    ['{{ regexMatch "^v[0-9]+" "v12" }} {{ regexFind "[0-9]+" "abc123def" }}', 'true 123'],
    ['{{ regexReplaceAll ".*:" "ghcr.io/a/b:1.2.3" "" }} {{ regexReplaceAll "(?P<n>[0-9]+)" "a1b22" "<${n}$1$$>" }}', '1.2.3 a<11$>b<2222$>'],
    ['{{ regexReplaceAll "a(x*)" "baaxxc" "[$1]" }} {{ regexReplaceAll "x*" "abc" "-" }} {{ regexReplaceAllLiteral "b" "abc" "$1" }}', 'b[][xx]c -a-b-c- a$1c'],
    ['{{ regexReplaceAll "b" "abc" "$" }} {{ regexReplaceAll "(b)" "abc" "${1" }} {{ regexReplaceAll "(b)" "abc" "$1x" }}', 'a$c a${1c ac'],
    ['{{ ternary "y" "n" true }} {{ coalesce "" "b" }} {{ plural "file" "files" 2 }}', 'y b files'],
    ['{{ range $k, $v := split ":" "a:b" }}{{ $k }}={{ $v }} {{ end }}', '_0=a _1=b '],
  ])('%s', (source, expected) => {
    expect(renderTemplate(source, plain)).toBe(expected);
  });
});

describe("Flux's data and documented templates", () => {
  it('the automation object prints as namespace/name and has Name and Namespace', () => {
    expect(renderTemplate('{{ .AutomationObject }} {{ .AutomationObject.Namespace }} {{ .AutomationObject.Name }}', flux))
      .toBe('flux-system/podinfo-update flux-system podinfo-update');
  });

  it('the default-style message and .Values', () => {
    expect(renderTemplate('Automated image update by Flux for cluster {{ .Values.cluster }}.', flux)).toBe('Automated image update by Flux for cluster prod.');
  });

  it('files and objects, from the spec page', () => {
    const source = `Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
`;
    expect(renderTemplate(source, flux)).toBe(
      'Automated image update\n\nAutomation name: flux-system/podinfo-update\n\nFiles:\n- deploy.yaml\nObjects:\n- Deployment podinfo\n  Changes:\n' +
        '    - ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n',
    );
  });

  it('template functions, from the spec page', () => {
    const source = `Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind | lower }} {{ $resource.Name | lower }}
  Changes:
{{- range $_, $change := $changes }}
  {{ if contains "5.0.3" $change.NewValue -}}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
  {{ else -}}
    [skip ci] wrong image
  {{ end -}}
{{ end -}}
{{ end -}}
`;
    expect(renderTemplate(source, flux)).toBe(
      'Objects:\n- deployment podinfo\n  Changes:\n  - ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n  ',
    );
  });

  it('the Gitea AGit template', () => {
    expect(renderTemplate('{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}', flux))
      .toBe('ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n');
  });

  it("the Gerrit Change-Id template, over Go's %v of the result", () => {
    const fileChanges = 'map[deploy.yaml:map[{{{apps/v1 Deployment} {podinfo default}}}:[{ghcr.io/stefanprodan/podinfo:5.0.0 ghcr.io/stefanprodan/podinfo:5.0.3 flux-system:podinfo}]]]';
    const objects = 'map[{{{apps/v1 Deployment} {podinfo default}}}:[{ghcr.io/stefanprodan/podinfo:5.0.0 ghcr.io/stefanprodan/podinfo:5.0.3 flux-system:podinfo}]]';
    const changes = '[{ghcr.io/stefanprodan/podinfo:5.0.0 ghcr.io/stefanprodan/podinfo:5.0.3 flux-system:podinfo}]';
    expect(renderTemplate('{{ .Changed.FileChanges | toString }}|{{ .Changed.Objects | toString }}|{{ .Changed.Changes | toString }}', flux))
      .toBe(`${fileChanges}|${objects}|${changes}`);
    const source = `Perform automatic image update

Automation name: {{ .AutomationObject }}

{{- $ChangeId := .AutomationObject -}}
{{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.FileChanges | toString ) -}}
{{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.Objects | toString ) -}}
{{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.Changes | toString ) }}
Change-Id: {{ printf "I%s" ( sha256sum $ChangeId | trunc 40 ) }}
`;
    const id = createHash('sha256').update(`flux-system/podinfo-update${fileChanges}${objects}${changes}`).digest('hex').slice(0, 40);
    expect(renderTemplate(source, flux)).toBe(`Perform automatic image update\n\nAutomation name: flux-system/podinfo-update\nChange-Id: I${id}\n`);
  });

  it('index of a missing file or object gives the typed zero value, as in Go', () => {
    expect(renderTemplate('{{ index .Changed.FileChanges "nope" }} {{ len (index .Changed.FileChanges "nope") }} {{ .Changed.FileChanges.nope }}', flux)).toBe('map[] 0 <no value>');
  });

  it('toJson of the changes uses the field names; of an object, its json tags', () => {
    expect(renderTemplate('{{ toJson .Changed.Changes }}', flux)).toBe(
      '[{"OldValue":"ghcr.io/stefanprodan/podinfo:5.0.0","NewValue":"ghcr.io/stefanprodan/podinfo:5.0.3","Setter":"flux-system:podinfo"}]',
    );
    expect(renderTemplate('{{ range $o, $_ := .Changed.Objects }}{{ toJson $o }}{{ end }}', flux)).toBe('{"apiVersion":"apps/v1","kind":"Deployment","name":"podinfo","namespace":"default"}');
  });
});

describe('errors', () => {
  it.each([
    ['{{ .Updated }}', "template: commit message:1:3: executing \"commit message\" at <.Updated>: can't evaluate field Updated in type source.TemplateData"],
    ['{{ .Changed.ImageResult }}', "can't evaluate field ImageResult in type update.Result"],
    ['{{ .AutomationObject.Foo }}', "can't evaluate field Foo in type types.NamespacedName"],
    ['line one\n{{ if .X }}', 'template: commit message:2: unexpected EOF'],
    ['{{ end }}', 'template: commit message:1: unexpected {{end}}'],
    ['{{ .Foo', 'template: commit message:1: unclosed action'],
    ['{{ nope }}', 'function "nope" not defined'],
    ['{{ $x }}', 'undefined variable "$x"'],
    ['{{ "a" "b" }}', "can't give argument to non-function"],
    ['{{ len 3 }}', 'error calling len: len of type int'],
    ['{{ index .Changed.Changes 5 }}', 'error calling index: index out of range: 5'],
    ['{{ template "nope" }}', 'no template "nope"'],
    ['{{ printf }}', 'wrong number of args for printf: want at least 1 got 0'],
    ['{{ upper 3 }}', 'wrong type for value; expected string; got int'],
    ['{{ break }}', '{{break}} outside {{range}}'],
    ['{{ "abc }}', 'unterminated quoted string'],
    ['{{/* open', 'unclosed comment'],
    ['{{ /* c */ }}', 'unexpected "/" in command'],
    ['{{ if 1 }}{{ else }}{{ else }}{{ end }}', 'expected end; found {{else}}'],
    ['{{ range until 200000 }}{{ end }}', 'exceeds the limit of 100000'],
    ['{{ define "r" }}{{ template "r" }}{{ end }}{{ template "r" }}', 'exceeded maximum template depth (100)'],
    ['{{ eq "a" 1 }}', 'incompatible types for comparison'],
  ])('%s', (source, message) => {
    let thrown: unknown;
    try {
      renderTemplate(source, flux);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TemplateError);
    expect((thrown as Error).message).toContain(message);
  });

  it('output and work are bounded', () => {
    const tmpl = compileTemplate('{{ range until 50000 }}{{ range until 50000 }}{{ end }}{{ end }}');
    expect(() => runTemplate(tmpl, flux)).toThrow(/evaluation steps/);
    expect(() => runTemplate(compileTemplate('{{ range until 1000 }}xxxxxxxxxx{{ end }}'), flux, { maxOutput: 5000, maxSteps: 1e6, maxDepth: 10 })).toThrow(/output exceeds 5000 bytes/);
  });

  it('random input never throws anything but a TemplateError', () => {
    const pieces = ['{{', '}}', '{{-', '-}}', ' ', '.', 'x', '$', ':=', '|', '(', ')', '"', '`', 'if', 'end', 'range', 'else', '/*', '*/', '1', 'printf', '\n'];
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      let src = '';
      for (let j = rand(20); j > 0; j--) src += pieces[rand(pieces.length)];
      try {
        renderTemplate(src, flux);
      } catch (e) {
        expect(e, src).toBeInstanceOf(TemplateError);
      }
    }
  });
});

describe('template size', () => {
  it('a template longer than MAX_TEMPLATE_LENGTH is refused before parsing', () => {
    expect(() => compileTemplate('x'.repeat(64 * 1024 + 1))).toThrow(/template is 65537 characters, more than 65536/);
    expect(compileTemplate('x'.repeat(64 * 1024)).root).toHaveLength(1);
  });
});
