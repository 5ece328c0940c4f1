#!/usr/bin/env python3
"""Regenerates the jinja2 reference data for the chat-template tests.

Expected outputs come from Python's jinja2 (3.1.6) configured the way Hugging Face's apply_chat_template does:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]), a tojson filter
that is json.dumps(ensure_ascii=False, ...), raise_exception and strftime_now (fixed at 2026-11-22 12:00).

  python3 generate.py   # writes jinja2-expressions.jsonl and jinja2-conversations.jsonl next to this file
"""
import datetime, glob, json, os
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.exceptions import TemplateError

def raise_exception(message):
    raise TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

def strftime_now(fmt):
    return datetime.datetime(2026, 11, 22, 12, 0, 0).strftime(fmt)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

def render_row(row, source, variables):
    try:
        row["expected"] = env.from_string(source).render(**variables)
    except Exception as e:
        row["error"] = type(e).__name__ + ": " + str(e)
    return row

# Differential cases: (template, vars). Expected output comes from jinja2 3.1.6 configured as Hugging Face does.
C = []
def c(t, **v): C.append((t, v))
msgs = [{"role": "system", "content": "Sys"}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
# literals and printing
c("{{ 1 }}|{{ 1.0 }}|{{ 1.5e3 }}|{{ 1e16 }}|{{ 1e-5 }}|{{ 0.1 + 0.2 }}|{{ -0.0 }}|{{ 1_000 }}|{{ 2.5e-3 }}")
c("{{ none }}|{{ None }}|{{ true }}|{{ True }}|{{ false }}|{{ 'a' 'b' }}|{{ \"x\\ty\" }}")
c("{{ [1, 'a', none, true, 1.0, {'k': (1, 2)}, (1,), ()] }}")
c("{{ {'a': 1, 'b': [1, 2], 'c': {'d': none}} }}")
c("{{ x }}", x=["it's", 'q"', "\n\t\u00e9", "both'\"", "\\", "\x01", "\u200b"])
c("{{ x }}|{{ x.a }}|{{ x['b'] }}|{{ x.c }}|", x={"a": 1, "b": 2.5})
c("{{ (1, 2) }}{{ (1,) }}{{ 1, 2 }}")
# arithmetic
c("{{ 3/2 }} {{ 4/2 }} {{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2**10 }} {{ 2**-1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}")
c("{{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ 10 - 2 - 3 }} {{ true + 1 }} {{ 1 + 1.5 }}")
c("{{ 'a' + 'b' }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 'a' ~ 1 ~ none ~ true }}")
c("{{ 'x' + 1 }}")
c("{{ 1 / 0 }}")
c("{{ u + 1 }}")
c("{{ 1 - u }}")
c("{{ u ~ 'a' }}")
c("{{ -u }}")
c("{{ 'abc' - 1 }}")
# comparisons
c("{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' == 'a' }} {{ [1,2] == [1,2] }} {{ (1,2) == [1,2] }} {{ {'a':1} == {'a':1} }} {{ none == none }} {{ u == none }} {{ u != 1 }}")
c("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 <= 1.0 }} {{ 'B' < 'a' }}")
c("{{ 1 < 'a' }}")
c("{{ u < 1 }}")
c("{{ 'a' in 'cat' }} {{ 'x' not in 'cat' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'k' in u }} {{ 1.0 in [1] }} {{ none in [none] }}")
c("{{ 1 in 'abc' }}")
c("{{ 1 in 5 }}")
# logic
c("{{ 1 and 2 }} {{ 0 and 2 }} {{ 0 or 'x' }} {{ '' or [] }} {{ not 0 }} {{ not [] }} {{ none or u }}|{{ u and 1 }}|")
c("{{ 'y' if true else 'n' }} {{ 'y' if 0 else 'n' }} {{ 'y' if false }}| {{ 1 if 0 else 2 if 1 else 3 }}")
c("{{ not x is defined }} {{ not 1 == 2 }} {{ x is not defined and true }}")
# attribute / item / slicing
c("{{ s[0] }}{{ s[-1] }}{{ s[1:3] }}{{ s[::-1] }}{{ s[::2] }}{{ s[-3:] }}{{ s[:-2] }}{{ s[10:] }}|{{ s[99] }}|{{ s[1:-1:2] }}", s="abcdefg")
c("{{ l[0] }}{{ l[-1] }}{{ l[1:] }}{{ l[::-1] }}{{ l[5] }}|{{ l[-2::-1] }}{{ l[:0] }}", l=[1, 2, 3, 4])
c("{{ l[u] }}", l=[1])
c("{{ d['items'] }}|{{ d['keys'] is defined }}|{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 5) }}", d={"items": 3, "a": 1})
c("{{ x.y.z }}")
c("{{ x.y.z }}", x={})
c("{{ x.y }}|{{ x.y is defined }}|{{ x[0] }}|", x=None)
c("{{ 'abc'.upper() }} {{ 'ABC'.lower() }} {{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'hello world'.title() }} {{ \"they're bill's\".title() }} {{ 'hELLO'.capitalize() }}")
c("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'a b  c'.split(none, 1) }} {{ ''.split() }} {{ ''.split(',') }}")
c("{{ 'abc'.startswith('a') }} {{ 'abc'.endswith('bc') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.find('c') }} {{ 'abc'.find('z') }} {{ 'aaa'.count('a') }} {{ 'abc'.replace('b', 'X') }} {{ 'aaa'.replace('a', 'b', 2) }}")
c("{{ '-'.join(['a', 'b']) }} {{ '{} and {}'.format(1, 'x') }} {{ '{0}{0}{name}'.format('a', name='n') }} {{ '{:>5}|{:<4}|{:^5}|{:.2f}|{:05d}'.format('a', 'b', 'c', 3.14159, 42) }}")
c("{{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'abc'.isdigit() }} {{ '123'.isdigit() }} {{ 'AB'.isupper() }} {{ 'x'.zfill(3) }} {{ 'a'.center(5, '*') }} {{ 'a=b'.partition('=') }}")
c("{{ [1,2].append(3) }}")
c("{{ x.append }}|", x=[1])
c("{{ {'a':1}.update({'b':2}) }}")
# filters
c("{{ '  x  '|trim }}|{{ 'xxyxx'|trim('x') }}|{{ u|trim }}|{{ 5|trim }}|{{ none|trim }}")
c("{{ 'abc'|length }} {{ [1,2]|length }} {{ {'a':1}|count }} {{ u|length }}")
c("{{ 5|length }}")
c("{{ 'aBc'|upper }} {{ 'aBc'|lower }} {{ 'hello wORLD-foo bar(baz'|title }} {{ 'hELLO world'|capitalize }}")
c("{{ 'aXbX'|replace('X', 'y') }} {{ 'aaa'|replace('a', 'b', 1) }} {{ 'abc'|replace('', '-') }} {{ 123|replace(2, 9) }}")
c("{{ u|default('d') }} {{ none|default('d') }} {{ none|default('d', true) }} {{ ''|d('e', boolean=true) }} {{ 0|d(5) }} {{ u|d }}|")
c("{{ [3,1,2]|first }} {{ [3,1,2]|last }} {{ 'abc'|first }} {{ 'abc'|last }} {{ []|first }}|{{ {'a':1,'b':2}|first }}")
c("{{ [1,2,3]|join }} {{ [1,2,3]|join(', ') }} {{ ['a', none, u]|join('-') }} {{ [{'n':'a'},{'n':'b'}]|join(',', attribute='n') }}")
c("{{ {'b':1,'a':2}|items|list }} {{ {'b':1,'a':2}|dictsort }} {{ {'b':1,'a':2}|dictsort(by='value') }} {{ {'B':1,'a':2}|dictsort }} {{ {'B':1,'a':2}|dictsort(true) }} {{ {'b':1,'a':2}|dictsort(reverse=true) }}")
c("{{ u|items|list }}")
c("{{ 'abc'|list }} {{ {'a':1}|list }} {{ u|list }} {{ (1,2)|list }}")
c("{{ 42|string }} {{ [1,'a']|string }} {{ none|string }} {{ u|string }}|{{ 1.0|string }}")
c("{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ true|int }} {{ ' 12 '|int }} {{ none|int }} {{ 'ff'|int(base=16) }}")
c("{{ '4.5'|float }} {{ 'x'|float }} {{ 3|float }} {{ '1e3'|float }} {{ none|float }}")
c("{{ 3|round }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ -1.5|round }}")
c("{{ -3|abs }} {{ -2.5|abs }} {{ [1,2,3]|sum }} {{ [1.5,2]|sum }} {{ [{'a':1},{'a':2}]|sum(attribute='a') }} {{ [3,1,2]|max }} {{ ['b','A','c']|min }} {{ []|max }}|")
c("{{ [3,1,2]|sort }} {{ [3,1,2]|sort(reverse=true) }} {{ ['b','A','c']|sort }} {{ ['b','A','c']|sort(case_sensitive=true) }} {{ [{'a':2},{'a':1}]|sort(attribute='a') }}")
c("{{ ['a','A','b','a']|unique|list }} {{ ['a','A','b']|unique(true)|list }} {{ [{'t':'x'},{'t':'X'},{'t':'y'}]|unique(attribute='t')|list }}")
c("{{ [1,2,3,4]|select('odd')|list }} {{ [1,2,3,4]|reject('odd')|list }} {{ [0,1,'',none,'a']|select|list }} {{ [1,2,3]|select('>', 1)|list }} {{ [1,2,3]|select('equalto', 2)|list }} {{ ['a','b']|select('in', ['a'])|list }}")
c("{{ x|selectattr('a')|list }} {{ x|rejectattr('a')|list }} {{ x|selectattr('a', 'equalto', 1)|list }} {{ x|selectattr('b', 'defined')|list }} {{ x|selectattr('b', 'undefined')|list }}", x=[{"a": 1}, {"a": 0, "b": 2}, {"a": 1, "b": None}])
c("{{ x|map(attribute='a')|list }} {{ x|map(attribute='z', default='D')|list }} {{ ['a','b']|map('upper')|list }} {{ [' a ']|map('trim')|join }} {{ x|map(attribute='z')|list }}", x=[{"a": 1}, {"a": 2}])
c("{{ x|map(attribute='a.b')|list }} {{ x|map(attribute='l.0')|list }}", x=[{"a": {"b": 1}, "l": [5]}])
c("{{ [1,2]|select|length }}")
c("{% if [1]|select('odd') %}T{% endif %}{% if []|select('odd') %}T2{% endif %}")
c("{{ [1,2,3]|reverse|list }} {{ 'abc'|reverse }}")
c("{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'a\\nb\\n'|indent('> ') }}|{{ ''|indent(first=true) }}|{{ 'x'|indent(first=true) }}")
c("{{ '<a href=\"x\">&\\'</a>'|e }} {{ '<b>'|safe }} {{ '%s-%d' | format('a', 3) }} {{ 'a b  c'|wordcount }} {{ 'hello world foo'|truncate(9) }} {{ 'hello world foo bar baz qux quux'|truncate(12, true) }} {{ 'x'|center(5) }}|")
c("{{ [1,2,3,4,5]|batch(2)|list }} {{ [1,2,3]|batch(2, 0)|list }}")
c("{{ x|attr('a') }} {{ x|pprint }}", x={"a": 1})
c("{{ x|nosuchfilter }}", x=1)
c("{{ x is nosuchtest }}", x=1)
# tojson
c("{{ x|tojson }}", x={"a": [1, 2.5, None, True, "é\n\"\\/<>&'"], "b": {}, "c": []})
c("{{ x|tojson(indent=2) }}", x={"a": [1, {"b": []}], "c": {}, "d": "x"})
c("{{ x|tojson(indent=0) }}|{{ x|tojson(sort_keys=true) }}|{{ x|tojson(separators=(',', ':')) }}|{{ x|tojson(ensure_ascii=true) }}", x={"b": "é\u2028", "a": [1, 2]})
c("{{ 'str'|tojson }} {{ 1.0|tojson }} {{ 5|tojson }} {{ none|tojson }} {{ (1, 2)|tojson }} {{ {1: 2, true: 3, none: 4}|tojson }}")
c("{{ u|tojson }}")
c("{{ x|tojson(indent='\\t') }}", x=[1, [2]])
# tests
c("{{ 1 is number }} {{ true is number }} {{ 1.5 is number }} {{ 'a' is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ 1 is boolean }}")
c("{{ 'a' is string }} {{ 'a' is iterable }} {{ [1] is iterable }} {{ u is iterable }} {{ 1 is iterable }} {{ {} is mapping }} {{ [] is mapping }} {{ 'a' is sequence }} {{ {} is sequence }} {{ u is sequence }} {{ 1 is sequence }}")
c("{{ none is none }} {{ u is none }} {{ 0 is none }} {{ u is defined }} {{ u is undefined }} {{ 1 is defined }} {{ none is defined }}")
c("{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }} {{ 1 is eq 1 }} {{ 1 is equalto 2 }} {{ 2 is gt 1 }} {{ 2 is lessthan 1 }} {{ 'a' is in 'cat' }} {{ 2 is ne 2 }} {{ 1 is ge 1 }}")
c("{{ true is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ none is sameas none }} {{ x is callable }} {{ range is callable }}", x=1)
c("{{ u is odd }}")
# statements
c("{% if 0 %}a{% elif [] %}b{% elif 'x' %}c{% else %}d{% endif %}")
c("{% for x in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}")
c("{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }}|{% endfor %}")
c("{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.index }}/{{ loop.length }} {% else %}none{% endfor %}")
c("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}{% for x in [1] if false %}{% else %}E2{% endfor %}")
c("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }},{% endfor %}{% for k, v in {'c': 3}|items %}{{ k }}{{ v }}{% endfor %}{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}")
c("{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %}{% for c in 'hey' %}{{ c }}.{% endfor %}{% for x in u %}never{% endfor %}")
c("{% for a, b in [(1, 2, 3)] %}{% endfor %}")
c("{% for x in 5 %}{% endfor %}")
c("{% for x in none %}{% endfor %}")
c("{% for x in [1,2,3,4,5] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}")
c("{% for x in [1,2] %}{% for y in [1,2] %}{{ loop.index }}{{ x }}{% if y == 1 %}{% break %}{% endif %}{% endfor %}{{ loop.index }};{% endfor %}")
c("{% for x in [1, 2] %}{{ loop.cycle('odd', 'even') }} {% endfor %}{% for x in [1,1,2] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}")
c("{% for x in tree recursive %}{{ x.n }}{% if x.c %}[{{ loop(x.c) }}]{% endif %}{{ loop.depth }}{% endfor %}", tree=[{"n": "a", "c": [{"n": "b", "c": [{"n": "c"}]}]}, {"n": "d"}])
c("{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }};{% endfor %}{{ x }}")
c("{% for i in [1, 2] %}{% if loop.first %}{% set a = 5 %}{% endif %}{{ a }};{% endfor %}{{ a }}")
c("{% set ns = namespace(n=0, l=[]) %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}{% set ns.l = ns.l + [i] %}{% endfor %}{{ ns.n }}{{ ns.l }}{{ ns.missing }}|")
c("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}")
c("{% set x = 1 %}{% set x.y = 2 %}")
c("{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set c, d = 'xy' %}{{ c }}{{ d }}")
c("{% set t %}  block {{ 1 + 1 }}  {% endset %}[{{ t }}]{% set t2 | trim | upper %}  x  {% endset %}[{{ t2 }}]")
c("{% filter upper %}abc{{ 'd' }}{% endfilter %}{% filter trim|replace('a', 'b') %}  aa  {% endfilter %}")
c("{% macro m(a, b=2, c='x') %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }} {{ m(1, 3) }} {{ m(1, c='y') }} {{ m() }}|")
c("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}")
c("{% macro m() %}{{ x }}{% endmacro %}{% set x = 1 %}{{ m() }}{% set x = 2 %}{{ m() }}")
c("{% macro rec(n) %}{{ n }}{% if n > 0 %}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(5) }}")
c("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}inner{% endcall %}{% macro w2() %}{{ caller(1, 2) }}{% endmacro %}{% call(a, b) w2() %}{{ a + b }}{% endcall %}")
c("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}|")
c("{% raw %}{{ not parsed }}{% endraw %}")
c("{{ raise_exception('boom') }}")
c("{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %A %B %j %y %-d %H') }}")
c("{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }} {{ range(0)|list }}")
c("{{ dict(a=1, b=2) }} {{ dict([('x', 1)]) }}")
c("{% set j = joiner('|') %}{% for x in [1,2,3] %}{{ j() }}{{ x }}{% endfor %}")
c("{{ range(1000000)|length }}")
c("{{ messages[0].role }} {{ messages|length }} {{ messages[1:]|map(attribute='content')|join(',') }} {{ messages|selectattr('role', 'equalto', 'user')|list|length }}", messages=msgs)
c("{% for m in messages %}{{ m.role }}:{{ m['content'] }}{% if not loop.last %}\n{% endif %}{% endfor %}", messages=msgs)
c("{{ '%s=%r' % ('a', 'b') }} {{ '%05.1f|%-4d|%x|%%' % (3.14159, 7, 255) }} {{ '%(a)s' % {'a': 1} }} {{ '%s' % [1] }}")
c("{{ '%s %s' % ('a',) }}")
# whitespace control
c("a  {%- if true -%}  b  {%- endif -%}  c")
c("a\n  {% if true %}\n    b\n  {% endif %}\nc\n")
c("a\n  {%+ if true %}\n    b\n  {%+ endif %}\nc")
c("a\n{% if true +%}\nb\n{% endif %}\n")
c("x  {{- 1 -}}  y {{ 2 }} \n {# comment #}\n z {#- c2 -#} w\n  {# c3 #}  q")
c("{% for i in [1,2] %}\n  - {{ i }}\n{% endfor %}\n")
c("  {% if true %}x{% endif %}  \n  {{ 'v' }}  {% if true %}y{% endif %}")
c("line1\r\nline2\r\n{% if true %}\r\nin\r\n{% endif %}\r\n")
c("a\n\n")
c("{{ 'x' }}\n")
c("{% if true %}\n{% endif %}\nEND")
c("{%- if true %}\n  A\n{%- endif %}\n")
c("{{ x }}{% if true -%}\n\n  y\n{%- endif %}", x="v")
# syntax errors
c("{% if x %}unclosed")
c("{{ 1 + }}")
c("{% endfor %}")
c("{% for %}{% endfor %}")
c("{{ 'unterminated }}")
c("{% include 'x' %}")
c("{{ x | }}")
c("{% set 1 = 2 %}")
c("{{ {'a': 1 }}")
c("{{ a.b( }}")
# markup
c("{{ 'a'|safe + '<b>' }} {{ '<b>' + 'a'|safe }} {{ ('<'|safe) ~ '<' }} {{ '<x>'|e }} {{ '<x>'|e|e }} {{ '<x>'|forceescape|forceescape }} {{ ('%s'|safe) % '<' }} {{ ('x'|safe) * 2 }} {{ 'a'|safe is string }} {{ '<'|e is escaped }} {{ 'a'|safe == 'a' }} {{ ('a'|safe)|length }}")
c("{% set m = 'a'|safe %}{{ m + {'k': '<'}|tojson }}|{{ [m] }}|{{ m.upper() }}")
c("{{ 'a'|safe + 1 }}")
c("{{ {'a':1}.keys() | list }} {{ {'a':1}.values() | list }} {% for k, v in {'a':1}.items() %}{{ k }}{{ v }}{% endfor %}")

# --- second batch: lexer edge cases, scoping, more filters and methods
# lexer edge cases
c("{{ '{{' }}{{ '}}' }}{{ \"%}\" }}{% if '%}' %}ok{% endif %}{{ {'a': {'b': 1}} }}{{ {'a': {'b': {'c': 1}}}['a'] }}")
c("a {# comment #} b {#- c -#} d {#+ e #}\n  {# f #}\ng")
c("x\n  {#- c #}\ny")
c("{%- raw -%}  {{ x }}  {%- endraw -%}  |")
c("a\n  {% raw %}\n  {{ y }}\n  {% endraw %}\nb")
c("\t{% if true %}\ttab\n\t{% endif %}\t\nz")
c("text {% if true %}\n  inner\n{% endif %} after\nnext")
c("{{ 'v' }}\n  {% if true %}x{% endif %}")
c("{{ 'v' }}  {% if true %}x{% endif %}")
c("{% if true %}  {% if true %}\n    x\n  {% endif %}\n{% endif %}")
c("{% for i in [1,2] -%}\n  {{ i }}\n{%- endfor %}")
c("{% for i in [1,2] %}{{ i }}\n{% endfor %}")
c("  {{- 'a' }}  \n  {{ 'b' -}}  \n  c")
c("{%- set x = 1 -%}\n\n\n{{ x }}\n\n")
c("a\r\n  {% if true %}\r\n  b\r\n  {% endif %}\r\nc\r\n")
c("{{ 'a' }}{# trailing")
c("{{ 'a\\\nb' }}")
c("{% if true %}{% endif %}\n\n")
c("{%if true%}x{%endif%}{{'y'}}{{-'z'-}}")
c("{{ x.0 }}{{ x.1 }}", x=["a", "b"])
c("{{ 'a' if true else 'b' ~ 'c' }}|{{ 1 + 2 if false else 3 * 4 }}|{{ not true or true }}|{{ not (true or true) }}|{{ -1 ** 2 }}|{{ (-1) ** 2 }}")
c("{{ 'x' ~ 1 + 2 }}|{{ 1 ~ 2 * 3 }}|{{ 'a' ~ 'b' | upper }}|{{ ('a' ~ 'b') | upper }}|{{ -3 | abs }}|{{ [3, 1] | sort | first }}")
c("{{ 1 in [1] == true }}|{{ 2 > 1 == 1 }}|{{ 1 is odd and 2 is even }}|{{ 'a' is string or 1 }}|{{ x is defined and x }}", x=0)
c("{{ 5 is divisibleby 5 and 'x' in 'xy' }}|{{ none is none is true }}")
c("{{ [1, 2, 3,] }}{{ {'a': 1,} }}{{ (1, 2,) }}{{ f(1,) if f is defined }}")
c("{{ 'abc' [1] }}{{ 'abc'  . upper ( ) }}")
# scoping
c("{% macro m() %}{% set y = 2 %}{{ y }}{% endmacro %}{% set y = 1 %}{{ m() }}{{ y }}")
c("{% for i in [1] %}{% set y = 2 %}{% endfor %}{{ y }}|")
c("{% if true %}{% set y = 2 %}{% endif %}{{ y }}")
c("{% set i = 'outer' %}{% for i in [1, 2] %}{{ i }}{% endfor %}{{ i }}")
c("{% macro m() %}{{ loop is defined }}{% endmacro %}{% for i in [1] %}{{ m() }}{% endfor %}")
c("{% for i in [1, 2] %}{% macro m() %}{{ i }}{% endmacro %}{{ m() }}{% endfor %}")
c("{% set ns = namespace(v=[]) %}{% macro add(x) %}{% set ns.v = ns.v + [x] %}{% endmacro %}{{ add(1) }}{{ add(2) }}{{ ns.v }}")
c("{% macro outer() %}{% macro inner() %}I{% endmacro %}{{ inner() }}O{% endmacro %}{{ outer() }}{{ inner is defined }}")
c("{% set x = 1 %}{% macro m(x) %}{{ x }}{% endmacro %}{{ m(5) }}{{ x }}{{ m() }}|")
c("{% for a in [1, 2] %}{% for b in [3] %}{{ loop.index }}{{ a }}{{ b }}{% endfor %}{{ loop.index }}{% endfor %}")
c("{% set msgs = messages %}{% for m in msgs %}{% if loop.index0 == 0 %}{% set first = m %}{% endif %}{% endfor %}{{ first }}|", messages=[{"role": "user"}])
c("{% with x = 1 %}{% set y = 2 %}{{ x }}{{ y }}{% endwith %}{{ y }}|")
c("{% set a = 1 %}{% set b = a + 1 %}{% set a = b * 10 %}{{ a }}{{ b }}")
c("{% set content = '' %}{% for m in ['a', 'b'] %}{% set content = content + m %}{% endfor %}{{ content }}|")
# loop extras
c("{% for x in [1, 2, 3] %}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.depth }}{{ loop.depth0 }}{% endfor %}")
c("{% for x in [] %}{% else %}{{ loop is defined }}{% endfor %}")
c("{% for x in [1, 2] %}{% for y in [] %}{% else %}{{ loop.index }}{% endfor %}{% endfor %}")
c("{% for x in {'b': 1, 'a': 2}|dictsort %}{{ x[0] }}{{ x[1] }}{% endfor %}")
c("{% for i in range(3) %}{% if i == 1 %}{% break %}{% endif %}{{ i }}{% else %}E{% endfor %}")
c("{% for a, b in [[1, 2]] %}{{ a }}{{ b }}{% endfor %}{% for (a, b) in [[1, 2]] %}{{ a }}{{ b }}{% endfor %}")
c("{% for x in [1,2,3] if x > 1 %}{{ loop.previtem }}{{ loop.nextitem }}|{% endfor %}")
# more filters/methods
c("{{ 'Hello World'|lower|title }}|{{ 'a_b c-d'|title }}|{{ \"o'neil mc-d\"|title }}|{{ 'ß'|upper }}")
c("{{ [1, 2, 3]|join(' ') }}|{{ 'abc'|join('-') }}|{{ {'a': 1, 'b': 2}|join(',') }}")
c("{{ ['a', 'b']|map('upper')|join }}|{{ [[1], [2, 3]]|map('length')|list }}|{{ [1, 2]|map('string')|map('length')|sum }}")
c("{{ x|map(attribute='function.name')|list }}", x=[{"function": {"name": "f"}}, {"function": {}}])
c("{{ x|selectattr('function.name', 'equalto', 'f')|list|length }}|{{ x|rejectattr('function')|list }}", x=[{"function": {"name": "f"}}, {"function": {}}])
c("{{ '%d items' % 3 }}|{{ '%.2f' % 1.005 }}|{{ '%5s|%-5s|' % ('a', 'b') }}|{{ '%03d' % 7 }}|{{ '%s and %s' % ('a', 'b') }}|{{ '%i' % 3.9 }}|{{ '%e' % 12345.678 }}|{{ '%g' % 0.0001 }}|{{ '%g' % 123456789 }}")
c("{{ '{:,}'.format(1234567) }}|{{ '{:+d}'.format(5) }}|{{ '{!r}'.format('a') }}|{{ '{0[0]}{1[k]}'.format([9], {'k': 8}) }}|{{ '{{}}'.format() }}|{{ '{:%}'.format(0.25) }}|{{ '{:.3}'.format(3.14159) }}|{{ '{:e}'.format(1234.5) }}")
c("{{ 'a-b-c'.rsplit('-') }}|{{ 'a-b-c'.rsplit('-', 1) }}|{{ ' a b c '.rsplit(none, 1) }}|{{ 'abc'.index('c') }}|{{ 'abcabc'.rfind('b') }}")
c("{{ 'Hello'.swapcase() }}|{{ 'abc'.removeprefix('a') }}|{{ 'abc'.removesuffix('c') }}|{{ 'a b'.isspace() }}|{{ ' '.isspace() }}|{{ 'Abc'.istitle() }}|{{ 'abc'.isalpha() }}|{{ 'a1'.isalnum() }}|{{ '-5'.zfill(4) }}|{{ 'ab'.ljust(4, '.') }}|{{ 'ab'.rjust(4) }}|{{ 'abc'.center(6) }}|{{ 'abc'.center(8, '*') }}")
c("{{ [1, 2, 2].count(2) }}|{{ [1, 2].index(2) }}|{{ (1, 2).index(2) }}|{{ {'a': 1}.copy() }}|{{ [1].copy() }}")
c("{{ {'a': 1}|length }}|{{ x|length }}|{{ x|count }}", x="héllo")
c("{{ '😀'|length }}|{{ '😀x'|list }}|{{ '😀x'[1] }}")
c("{{ [1, 'a']|sort }}")
c("{{ x|sort(attribute='n')|map(attribute='n')|join }}|{{ x|sort(attribute='n', reverse=true)|map(attribute='n')|join }}|{{ x|max(attribute='n') }}|{{ x|min(attribute='n') }}", x=[{"n": "b"}, {"n": "A"}, {"n": "c"}])
c("{{ x|groupby('g')|list }}", x=[{"g": 1}])
c("{{ '  x\\n y '|trim }}|{{ 'x'|trim('') }}|{{ 'aXa'|trim('a') }}|{{ '\\u3000x\\u3000'|trim }}|{{ '\\x1cx'|trim }}")
c("{{ x|tojson }}", x={"nested": {"deep": [1, 2.5, -3, 1e100, 0.000001, 12345678901234567]}, "uni": "\u00e9\U0001F600\u0000\u001f\u007f"})
c("{{ x|tojson(indent=4) }}", x=[{"a": None, "b": [], "c": {}}, "s", 1.5, True])
c("{{ 1.0e2|tojson }}|{{ 100.0 }}|{{ 1e22 }}|{{ 1.5e-7 }}|{{ 123456789012345678.0 }}|{{ 0.5 }}|{{ 2.0 ** 0.5 }}|{{ 10 / 3 }}|{{ -1.25e-10 }}")
c("{{ x }}|{{ x|tojson }}|{{ x * 1.0 }}", x=3.0)
c("{{ x }}|{{ y }}", x=1.0, y=12345678901234567890.0)
c("{{ (0.1 * 3)|round(2) }}|{{ 1234.5678|round(-2) }}|{{ 0.5|round }}|{{ 1.5|round }}|{{ 2.5|round(0) }}|{{ 5|round(2) }}|{{ -0.5|round }}")
c("{{ 7|float / 2 }}|{{ '3'|int + 1 }}|{{ '0x1f'|int(0, 16) }}|{{ '-12'|int }}|{{ '1_000'|int }}|{{ '  7  '|float }}|{{ 'inf'|float }}")
c("{{ x|default('d') }}|{{ x|default('d', boolean=true) }}", x="")
c("{{ missing|default(none) is none }}|{{ missing|d([])|length }}")
c("{{ ['x', 'y']|first|upper }}|{{ ('a', 'b')|last }}|{{ {'k': 'v'}|last }}")
c("{{ [[1, 2], [3]]|sum(start=[]) }}")
c("{{ 'abc'|batch(2)|list }}|{{ range(5)|batch(2)|map('list')|list }}")
c("{{ 'one two three'|wordcount }}|{{ 'a.b,c'|wordcount }}|{{ 'x' * 3|length }}")
c("{{ '\\n'.join(['a', 'b']) }}|{{ ', '.join(x) }}", x=["p", "q"])
c("{{ ', '.join([1, 2]) }}")
c("{{ x.get('a', 0) + x.get('b', 0) }}|{{ x.keys()|list }}|{{ x.values()|list }}", x={"a": 1, "b": 2})
c("{% for k, v in x.items() %}{{ k }}{{ v }}{% endfor %}{% for k in x.keys() %}{{ k }}{% endfor %}{% for v in x.values() %}{{ v }}{% endfor %}", x={"a": 1, "b": 2})
c("{{ x['a'] }}{{ x.a }}{{ x['get'] }}|{{ x.get('a') }}", x={"a": 1, "get": 2})
c("{{ x['content'][0]['text'] }}|{{ x.content[0].text }}|{{ x.content is string }}|{{ x.content is iterable }}", x={"content": [{"type": "text", "text": "hi"}]})
c("{{ messages[-1]['role'] }}|{{ messages[:-1]|length }}|{{ messages[1:]|first }}|{{ messages|last }}", messages=[{"role": "system"}, {"role": "user"}])
c("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% else %}{% set loop_messages = messages %}{% endif %}{% for m in loop_messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('alternate') }}{% endif %}{{ m['role'] }}{% endfor %}", messages=[{"role": "system"}, {"role": "user"}, {"role": "assistant"}])
c("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% else %}{% set loop_messages = messages %}{% endif %}{% for m in loop_messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('alternate') }}{% endif %}{{ m['role'] }}{% endfor %}", messages=[{"role": "user"}, {"role": "user"}])
c("{{ x is sameas x }}|{{ 1 is sameas 1 }}|{{ true is sameas true }}|{{ [] is sameas [] }}", x=[1])
c("{{ 1 is in [1] }}|{{ 'a' is lower }}|{{ 'A1' is upper }}|{{ 2 is ge(2) }}|{{ 3 is le 2 }}|{{ 4 is greaterthan 3 }}|{{ 1 is lt 2 }}|{{ 1 is == 1 }}|{{ 1 is != 1 }}")
c("{{ 1 is number is true }}")
c("{{ x is string }}{{ x is mapping }}{{ x is iterable }}{{ x is sequence }}{{ x is integer }}{{ x is float }}{{ x is number }}{{ x is boolean }}{{ x is none }}{{ x is true }}", x=None)
c("{{ 1 is defined is true }}")
c("{{ u.attr is defined }}")
c("{{ u['x'] }}")
c("{{ u() }}")
c("{{ 'abc'() }}")
c("{{ u|first }}|{{ u|last }}|{{ u|list }}|{{ u|join }}|{{ u|items|list }}|{{ u|sort }}|{{ u|unique|list }}|{{ u|reverse|list }}|{{ u|map('upper')|list }}|{{ u|select|list }}")
c("{{ u|upper }}|{{ u|lower }}|{{ u|title }}|{{ u|capitalize }}|{{ u|replace('a', 'b') }}|{{ u|string }}|{{ u|safe }}|{{ u|e }}|{{ u|wordcount }}|{{ u|center(3) }}|{{ u|truncate(3) }}")
c("{{ u|int }}")
c("{{ u|float }}")
c("{{ u|abs }}")
c("{{ u|round }}")
c("{{ u|indent }}")
c("{{ u|sum }}|{{ u|max }}|{{ u|min }}|{{ u|batch(2)|list }}|{{ u|dictsort }}")
c("{{ u|format }}")
c("{{ u|pprint }}|{{ u|tojson if false }}")

# macro argument binding
c("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}")
c("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, k=2) }}")
c("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, a=2) }}")
c("{% macro m(a) %}{{ a }}{{ varargs }}{% endmacro %}{{ m(1, 2) }}|{{ m() }}")
c("{% macro m(a) %}{{ a }}{{ kwargs }}{% endmacro %}{{ m(1, k=2) }}|{{ m(a=3) }}")
c("{% macro m(a) %}{{ caller() }}{% endmacro %}{{ m(1) }}")
c("{% macro m(a, b=a) %}{{ b }}{% endmacro %}{{ m(3) }}")
c("{% macro m() %}{% if true %}{{ kwargs }}{% endif %}{% endmacro %}{{ m(x=1) }}")
c("{% macro m() %}x{% endmacro %}{{ m(1) }}")
c("{% macro m() %}{% macro n() %}{{ varargs }}{% endmacro %}{{ n(1) }}{% endmacro %}{{ m() }}")
c("{% macro m() %}{% macro n() %}{{ varargs }}{% endmacro %}{{ n(1) }}{% endmacro %}{{ m(2) }}")
c("{% macro m(x) %}[{{ caller(x) }}]{% endmacro %}{% call(y) m(5) %}{{ y * 2 }}{% endcall %}")
c("{% macro m(a, b) %}{{ a }}{{ b }}{% endmacro %}{{ m(b=1, a=2) }}{{ m(*[3, 4]) }}{{ m(**{'a': 5, 'b': 6}) }}")

# jinja2 frame semantics: a name first assigned in a frame is undefined there until assigned, for loops and
# macros of that frame; names assigned in if-branches are resolved from the context
for t in [
    '{{ a }}{% set a = 1 %}{{ a }}',
    '{% for i in [1] %}{{ a }}{% endfor %}{% set a = 1 %}',
    '{% for i in [1] if a %}{{ i }}{% endfor %}{% set a = 1 %}',
    '{% if true %}{{ a }}{% endif %}{% set a = 1 %}',
    '{% for i in [1] %}{{ a }}{% endfor %}{% if false %}{% set a = 1 %}{% endif %}',
    '{% macro m() %}{{ a }}{% endmacro %}{{ m() }}{% set a = 1 %}{{ m() }}',
    '{% for i in [1] %}{{ a }}{% set a = 2 %}{{ a }}{% endfor %}',
    '{% for i in [1] %}{% for j in [1] %}{{ a }}{% endfor %}{% set a = 2 %}{% endfor %}',
    '{% for i in [1] %}{% if true %}{{ a }}{% endif %}{% set a = 2 %}{% endfor %}',
    '{% for a in [3] %}{% set a = 1 %}{{ a }}{% endfor %}{{ a }}',
    '{% set x = a %}{{ x }}{% set a = 1 %}',
    '{% for i in [1] %}{{ a }}{% endfor %}{% for i in [1] %}{% set a = 2 %}{% endfor %}',
    '{% macro m() %}{{ a }}{% set a = 3 %}{{ a }}{% endmacro %}{{ m() }}',
    '{% macro m() %}{% for i in [1] %}{{ a }}{% endfor %}{% set a = 3 %}{% endmacro %}{{ m() }}',
    '{% for x in [] %}{% else %}{% set y = 1 %}{% endfor %}{{ y }}|',
    '{% for i in [1] if a %}{{ i }}{% set a = 2 %}{% endfor %}',
    '{% for i in [1] if a %}{{ i }}{{ a }}{% set a = 2 %}{% endfor %}',
    '{% for i in [1] if a %}{% if true %}{% set a = 2 %}{% endif %}{{ i }}{% endfor %}',
    '{% for i in [3, 4] if a %}{{ x }}{% for x in [3, 4] if a %}{{ a }}{% endfor %}{% set a = 1 %}{% endfor %}',
    '{% for i in [1, 2] %}{% if loop.first %}{% set a = 7 %}{% endif %}{{ a }};{% endfor %}',
    '{% set ns = namespace(v=0) %}{% for x in [3, 4] if a %}{% set ns.v = m(a) %}{% endfor %}{% macro m(a) %}[{{ a }}]{% endmacro %}{% set a = none %}{{ ns.v }}',
]:
    c(t, a=5)

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "..", "..", "..", "..", "..", "shared", "reference", "chat-templates")

tools = [
 {"type": "function", "function": {"name": "get_weather", "description": "Get the weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}, "unit": {"type": "string", "enum": ["c", "f"], "description": "Unit"}, "days": {"type": "integer", "description": "Days ahead"}, "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags"}}, "required": ["city"]}}},
 {"type": "function", "function": {"name": "search", "description": "Search the web", "parameters": {"type": "object", "properties": {"q": {"type": ["string", "null"], "description": "Query"}, "opts": {"type": "object", "additionalProperties": {"type": "number"}, "description": "Options"}}, "required": ["q"]}}},
]
call = {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]}
call_str = {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}
toolres = {"role": "tool", "name": "get_weather", "tool_call_id": "call_1", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"}
convs = {
 "tools-user": dict(messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools),
 "tools-system-user": dict(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}], tools=tools),
 "tool-call-dict": dict(messages=[{"role": "user", "content": "Weather in Paris?"}, call, toolres], tools=tools),
 "tool-call-str": dict(messages=[{"role": "user", "content": "Weather in Paris?"}, call_str, toolres, {"role": "assistant", "content": "It is 21.5C."}, {"role": "user", "content": "Thanks"}], tools=tools),
 "think": dict(messages=[{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"}, {"role": "user", "content": "ünïcödé ✓ 😀 \"quotes\" \\ back"}]),
 "whitespace": dict(messages=[{"role": "system", "content": "  padded system  \n"}, {"role": "user", "content": "\n\nhello\t "}]),
 "docs": dict(messages=[{"role": "user", "content": "Summarize"}], documents=[{"title": "A", "text": "alpha"}, {"title": "B", "text": "beta"}]),
 "empty": dict(messages=[]),
 "assistant-last": dict(messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]),
 "extra-vars": dict(messages=[{"role": "user", "content": "Hi"}], date_string="01 Jan 2025", tools_in_user_message=False, builtin_tools=["code_interpreter", "brave_search"], tools=tools),
 "multimodal": dict(messages=[{"role": "system", "content": [{"type": "text", "text": "Sys text"}]}, {"role": "user", "content": [{"type": "text", "text": "What is this?"}, {"type": "image", "image": "x.png"}]}, {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}, {"role": "user", "content": "ok"}]),
 "reasoning": dict(messages=[{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1", "reasoning_content": "think1"}, {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "<think>\nr2\n</think>\n\nA2"}], enable_thinking=False),
 "tool-call-9": dict(messages=[{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": None, "tool_calls": [{"id": "call_abcdefghi", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]}, {"role": "tool", "name": "get_weather", "tool_call_id": "call_abcdefghi", "content": "{\"temp\": 21.5}"}, {"role": "assistant", "content": "Sunny."}], tools=tools),
 "thinking-on": dict(messages=[{"role": "user", "content": "Hi"}], enable_thinking=True, thinking=True),
}

if __name__ == "__main__":
    with open(os.path.join(HERE, "jinja2-expressions.jsonl"), "w") as out:
        for t, v in C:
            out.write(json.dumps(render_row({"template": t, "vars": v}, t, v), ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, "jinja2-conversations.jsonl"), "w") as out:
        # The 17 reference templates, plus one written here that mixes constructs of other model families.
        for path in sorted(glob.glob(os.path.join(TEMPLATES, "*.jinja"))) + [os.path.join(HERE, "mixed-constructs.jinja")]:
            src = open(path).read()
            for name, kw in convs.items():
                for agp in (True, False):
                    v = dict(kw, add_generation_prompt=agp, bos_token="<s>", eos_token="</s>")
                    row = {"template": os.path.basename(path), "conversation": name, "vars": v}
                    out.write(json.dumps(render_row(row, src, v), ensure_ascii=False) + "\n")
