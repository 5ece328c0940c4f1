using System.Text;
using System.Text.Json;

namespace Hunch.Grammar;

/// <summary>Options of the JSON Schema compiler.</summary>
public sealed record JsonSchemaOptions
{
    /// <summary>Strict (OpenAI <c>strict: true</c>): objects never carry properties beyond those declared.
    /// When false, <c>additionalProperties: false</c> still forbids them, and extra properties are not generated
    /// either (a valid subset of what the schema allows).</summary>
    public bool Strict { get; init; } = true;
    /// <summary>Longest schema text in characters.</summary>
    public int MaxSchemaChars { get; init; } = 1 << 20;
    /// <summary>Deepest nesting of subschemas.</summary>
    public int MaxDepth { get; init; } = 64;
    /// <summary>Most subschemas compiled (each <c>$ref</c> target counts once).</summary>
    public int MaxSubschemas { get; init; } = 5_000;
    /// <summary>Limits of the resulting grammar.</summary>
    public GrammarLimits GrammarLimits { get; init; } = GrammarLimits.Default;
}

/// <summary>
/// Compiles a JSON Schema to GBNF. Supported: <c>type</c> (object, array, string, number, integer, boolean,
/// null, or a list of them), <c>properties</c> + <c>required</c> (declared order; optional ones may be
/// omitted), <c>additionalProperties</c> (false, or a schema for objects without <c>properties</c>),
/// <c>items</c>, <c>minItems</c>/<c>maxItems</c>, <c>enum</c>, <c>const</c>, <c>anyOf</c>/<c>oneOf</c>
/// (oneOf exclusivity is not enforced), <c>allOf</c> with one member, <c>$ref</c> to <c>#/$defs/...</c> or
/// <c>#/definitions/...</c> (recursion allowed), <c>minLength</c>/<c>maxLength</c>, and <c>pattern</c> in a
/// regular-expression subset (literals, classes, <c>. \d \w \s</c>, groups, alternation, quantifiers, ^ and $).
/// Anything else that would change which documents are valid (numeric bounds, <c>format</c>, lookarounds ...)
/// is rejected with a <see cref="GrammarException"/> rather than silently ignored. Output JSON is compact
/// (no whitespace); numbers have at most 16 integer digits, 16 fraction digits and 3 exponent digits.
/// </summary>
public static class JsonSchemaGrammar
{
    /// <summary>GBNF for any JSON value (JSON mode with <paramref name="objectOnly"/> false) or any JSON object
    /// (OpenAI <c>json_object</c>). Whitespace between tokens is limited to 20 characters per gap.</summary>
    public static string AnyJsonGbnf(bool objectOnly = true) =>
        (objectOnly ? "root ::= object\n" : "root ::= value\n") + """
        value ::= object | array | string | number | "true" | "false" | "null"
        object ::= "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"
        array ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
        string ::= "\"" char* "\""
        char ::= [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" ( [0-9a-cA-CefEF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) )
        number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?
        ws ::= [ \t\n\r]{0,20}
        """;

    /// <summary>A compiled grammar for any JSON object (or any value).</summary>
    public static GbnfGrammar AnyJson(bool objectOnly = true) => GbnfGrammar.Parse(AnyJsonGbnf(objectOnly));

    /// <summary>Compiles a schema (JSON text) to a grammar.</summary>
    public static GbnfGrammar Compile(string schemaJson, JsonSchemaOptions? options = null)
    {
        options ??= new JsonSchemaOptions();
        return GbnfGrammar.Parse(ToGbnf(schemaJson, options), "root", options.GrammarLimits);
    }

    /// <summary>Translates a schema (JSON text) to GBNF text.</summary>
    public static string ToGbnf(string schemaJson, JsonSchemaOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(schemaJson);
        options ??= new JsonSchemaOptions();
        if (schemaJson.Length > options.MaxSchemaChars)
            throw new GrammarException($"JSON schema is {schemaJson.Length} characters long; the limit is {options.MaxSchemaChars}");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(schemaJson, new JsonDocumentOptions { MaxDepth = Math.Max(options.MaxDepth * 4, 64) }); }
        catch (JsonException e) { throw new GrammarException($"JSON schema is not valid JSON: {e.Message}"); }
        using (doc) return new Compiler(doc.RootElement, options).Run();
    }

    /// <summary>Escapes text as the inside of a GBNF string literal.</summary>
    internal static string GbnfLiteral(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20) sb.Append($"\\x{(int)c:X2}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    sealed class Compiler(JsonElement root, JsonSchemaOptions options)
    {
        readonly StringBuilder _rules = new();
        readonly Dictionary<string, string> _byBody = new(StringComparer.Ordinal);
        readonly Dictionary<string, string> _refRules = new(StringComparer.Ordinal);
        readonly HashSet<string> _primitives = new(StringComparer.Ordinal);
        int _count;
        int _names;

        static readonly Dictionary<string, string> s_primitiveRules = new(StringComparer.Ordinal)
        {
            ["char"] = """char ::= [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" ( [0-9a-cA-CefEF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) )""",
            ["string"] = """string ::= "\"" char* "\"" """,
            ["integer"] = """integer ::= "-"? ( "0" | [1-9] [0-9]{0,15} )""",
            ["number"] = """number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?""",
            ["boolean"] = """boolean ::= "true" | "false" """,
            ["null"] = """null ::= "null" """,
            ["value"] = """value ::= object | array | string | number | boolean | null""",
            ["object"] = """object ::= "{" ( string ":" value ( "," string ":" value )* )? "}" """,
            ["array"] = """array ::= "[" ( value ( "," value )* )? "]" """,
        };

        static readonly Dictionary<string, string[]> s_primitiveDeps = new(StringComparer.Ordinal)
        {
            ["string"] = ["char"], ["value"] = ["object", "array", "string", "number", "boolean", "null"],
            ["object"] = ["string", "value"], ["array"] = ["value"],
        };

        public string Run()
        {
            string body = Schema(root, 0, "root");
            var sb = new StringBuilder();
            sb.Append("root ::= ").Append(body).Append('\n');
            sb.Append(_rules);
            return sb.ToString();
        }

        GrammarException Error(string what) => new($"JSON schema: {what}");

        string Primitive(string name)
        {
            if (_primitives.Add(name))
            {
                _rules.Append(s_primitiveRules[name]).Append('\n');
                if (s_primitiveDeps.TryGetValue(name, out var deps)) foreach (var d in deps) Primitive(d);
            }
            return name;
        }

        /// <summary>Defines a rule with this body (or reuses an identical one) and returns its name.</summary>
        string Rule(string hint, string body)
        {
            if (_byBody.TryGetValue(body, out var existing)) return existing;
            string name = $"{Sanitize(hint)}-{++_names}";
            _rules.Append(name).Append(" ::= ").Append(body).Append('\n');
            _byBody[body] = name;
            return name;
        }

        static string Sanitize(string hint)
        {
            var sb = new StringBuilder();
            foreach (char c in hint) if (char.IsAsciiLetterOrDigit(c) || c == '-') sb.Append(c); else sb.Append('-');
            if (sb.Length > 24) sb.Length = 24;
            return sb.Length == 0 ? "r" : sb.ToString();
        }

        /// <summary>Returns a GBNF expression for the schema.</summary>
        string Schema(JsonElement s, int depth, string hint)
        {
            if (depth > options.MaxDepth) throw Error($"subschemas nest deeper than {options.MaxDepth}");
            if (++_count > options.MaxSubschemas) throw Error($"more than {options.MaxSubschemas} subschemas");
            if (s.ValueKind == JsonValueKind.True) return Primitive("value");
            if (s.ValueKind == JsonValueKind.False) throw Error($"'{hint}' is the schema false, which nothing satisfies");
            if (s.ValueKind != JsonValueKind.Object) throw Error($"'{hint}': a schema must be an object or a boolean, found {s.ValueKind}");

            foreach (var p in s.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "minimum": case "maximum": case "exclusiveMinimum": case "exclusiveMaximum": case "multipleOf":
                    case "format": case "patternProperties": case "propertyNames": case "not": case "if": case "then": case "else":
                    case "uniqueItems": case "contains": case "minProperties": case "maxProperties": case "dependentRequired":
                    case "dependentSchemas": case "prefixItems": case "unevaluatedProperties": case "unevaluatedItems":
                        throw Error($"'{hint}' uses '{p.Name}', which is not supported");
                }
            }

            if (s.TryGetProperty("$ref", out var refEl)) return Ref(refEl, depth);
            if (s.TryGetProperty("const", out var c)) return JsonLiteral(c);
            if (s.TryGetProperty("enum", out var en))
            {
                if (en.ValueKind != JsonValueKind.Array || en.GetArrayLength() == 0) throw Error($"'{hint}': enum must be a non-empty array");
                var parts = new List<string>();
                foreach (var v in en.EnumerateArray()) parts.Add(JsonLiteral(v));
                return "(" + string.Join(" | ", parts) + ")";
            }
            if (s.TryGetProperty("anyOf", out var any) || s.TryGetProperty("oneOf", out any))
            {
                if (any.ValueKind != JsonValueKind.Array || any.GetArrayLength() == 0) throw Error($"'{hint}': anyOf/oneOf must be a non-empty array");
                var parts = new List<string>();
                foreach (var v in any.EnumerateArray()) parts.Add(Schema(v, depth + 1, hint));
                return Rule(hint, string.Join(" | ", parts));
            }
            if (s.TryGetProperty("allOf", out var all))
            {
                if (all.ValueKind != JsonValueKind.Array || all.GetArrayLength() != 1) throw Error($"'{hint}': allOf is supported with exactly one member");
                return Schema(all[0], depth + 1, hint);
            }

            if (s.TryGetProperty("type", out var type))
            {
                if (type.ValueKind == JsonValueKind.String) return Typed(s, type.GetString()!, depth, hint);
                if (type.ValueKind == JsonValueKind.Array)
                {
                    var parts = new List<string>();
                    foreach (var t in type.EnumerateArray())
                    {
                        if (t.ValueKind != JsonValueKind.String) throw Error($"'{hint}': type list entries must be strings");
                        parts.Add(Typed(s, t.GetString()!, depth, hint));
                    }
                    if (parts.Count == 0) throw Error($"'{hint}': empty type list");
                    return Rule(hint, string.Join(" | ", parts));
                }
                throw Error($"'{hint}': type must be a string or an array of strings");
            }
            // No type: infer from the keywords present, else any value.
            if (s.TryGetProperty("properties", out _)) return Typed(s, "object", depth, hint);
            if (s.TryGetProperty("items", out _)) return Typed(s, "array", depth, hint);
            return Primitive("value");
        }

        string Ref(JsonElement refEl, int depth)
        {
            if (refEl.ValueKind != JsonValueKind.String) throw Error("$ref must be a string");
            string r = refEl.GetString()!;
            if (_refRules.TryGetValue(r, out var name)) return name;
            string[] prefixes = ["#/$defs/", "#/definitions/"];
            string? key = null, container = null;
            foreach (var pre in prefixes)
                if (r.StartsWith(pre, StringComparison.Ordinal)) { key = r[pre.Length..]; container = pre[2..^1]; }
            if (r == "#") { name = $"ref-{++_names}"; _refRules[r] = name; DefineRef(name, root, depth); return name; }
            if (key is null || key.Length == 0 || key.Contains('/'))
                throw Error($"$ref '{r}' is not supported (only '#', '#/$defs/Name' and '#/definitions/Name')");
            if (!root.TryGetProperty(container!, out var defs) || defs.ValueKind != JsonValueKind.Object || !defs.TryGetProperty(key, out var target))
                throw Error($"$ref '{r}' points to nothing");
            name = $"{Sanitize(key)}-{++_names}";
            _refRules[r] = name;   // registered before compiling the target, so recursion refers to it
            DefineRef(name, target, depth);
            return name;
        }

        void DefineRef(string name, JsonElement target, int depth)
        {
            string body = Schema(target, depth + 1, name);
            _rules.Append(name).Append(" ::= ").Append(body).Append('\n');
        }

        string Typed(JsonElement s, string type, int depth, string hint)
        {
            switch (type)
            {
                case "string": return StringSchema(s, hint);
                case "integer": return Primitive("integer");
                case "number": return Primitive("number");
                case "boolean": return Primitive("boolean");
                case "null": return Primitive("null");
                case "array": return ArraySchema(s, depth, hint);
                case "object": return ObjectSchema(s, depth, hint);
                default: throw Error($"'{hint}': unknown type '{type}'");
            }
        }

        int? GetCount(JsonElement s, string name, string hint)
        {
            if (!s.TryGetProperty(name, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long n) || n < 0)
                throw Error($"'{hint}': {name} must be a non-negative integer");
            if (n > options.GrammarLimits.MaxRepeat)
                throw Error($"'{hint}': {name} {n} is above the supported limit of {options.GrammarLimits.MaxRepeat}");
            return (int)n;
        }

        string StringSchema(JsonElement s, string hint)
        {
            int? min = GetCount(s, "minLength", hint);
            int? max = GetCount(s, "maxLength", hint);
            if (s.TryGetProperty("pattern", out var pat))
            {
                if (min is not null || max is not null) throw Error($"'{hint}': pattern together with minLength/maxLength is not supported");
                if (pat.ValueKind != JsonValueKind.String) throw Error($"'{hint}': pattern must be a string");
                string body = RegexToGbnf.Translate(pat.GetString()!, options.GrammarLimits, out bool needsChar);
                if (needsChar) Primitive("char");
                return Rule(hint + "-pattern", "\"\\\"\" " + body + " \"\\\"\"");
            }
            if (min is null && max is null) return Primitive("string");
            Primitive("char");
            int lo = min ?? 0;
            if (max is not null && max < lo) throw Error($"'{hint}': maxLength {max} is below minLength {lo}");
            string rep = max is null ? $"char{{{lo},}}" : $"char{{{lo},{max}}}";
            return Rule(hint + "-string", "\"\\\"\" " + rep + " \"\\\"\"");
        }

        string ArraySchema(JsonElement s, int depth, string hint)
        {
            string item = s.TryGetProperty("items", out var items) ? Schema(items, depth + 1, hint + "-item") : Primitive("value");
            int min = GetCount(s, "minItems", hint) ?? 0;
            int? max = GetCount(s, "maxItems", hint);
            if (max is not null && max < min) throw Error($"'{hint}': maxItems {max} is below minItems {min}");
            if (max == 0) return "\"[]\"";
            string more = max is null ? $"(\",\" {item}){{{Math.Max(0, min - 1)},}}" : $"(\",\" {item}){{{Math.Max(0, min - 1)},{max - 1}}}";
            string body = min == 0 ? $"\"[\" ( {item} {more} )? \"]\"" : $"\"[\" {item} {more} \"]\"";
            return Rule(hint + "-array", body);
        }

        string ObjectSchema(JsonElement s, int depth, string hint)
        {
            bool hasProps = s.TryGetProperty("properties", out var props);
            if (hasProps && props.ValueKind != JsonValueKind.Object) throw Error($"'{hint}': properties must be an object");
            var required = new HashSet<string>(StringComparer.Ordinal);
            if (s.TryGetProperty("required", out var req))
            {
                if (req.ValueKind != JsonValueKind.Array) throw Error($"'{hint}': required must be an array");
                foreach (var r in req.EnumerateArray())
                {
                    if (r.ValueKind != JsonValueKind.String) throw Error($"'{hint}': required entries must be strings");
                    required.Add(r.GetString()!);
                }
            }
            if (!hasProps)
            {
                if (required.Count > 0) throw Error($"'{hint}': required without properties is not supported");
                if (s.TryGetProperty("additionalProperties", out var ap) && ap.ValueKind == JsonValueKind.Object)
                {
                    string v = Schema(ap, depth + 1, hint + "-value");
                    string kv = Primitive("string") + " \":\" " + v;
                    return Rule(hint + "-map", $"\"{{\" ( {kv} ( \",\" {kv} )* )? \"}}\"");
                }
                if (s.TryGetProperty("additionalProperties", out ap) && ap.ValueKind == JsonValueKind.False) return "\"{}\"";
                return options.Strict ? "\"{}\"" : Primitive("object");
            }

            var names = new List<string>();
            var kvs = new List<string>();
            foreach (var p in props.EnumerateObject())
            {
                names.Add(p.Name);
                string key = GbnfLiteral(JsonSerializer.Serialize(p.Name, s_json));
                kvs.Add(key + " \":\" " + Schema(p.Value, depth + 1, p.Name));
            }
            foreach (var r in required)
                if (!names.Contains(r)) throw Error($"'{hint}': required property '{r}' is not among the properties");
            int n = names.Count;
            if (n == 0) return "\"{}\"";
            // tail_i: the properties from i on, each preceded by a comma (optional ones may be skipped).
            var tails = new string[n + 1];
            tails[n] = "";
            for (int i = n - 1; i >= 0; i--)
            {
                string withIt = $"\",\" {kvs[i]} {tails[i + 1]}".TrimEnd();
                if (required.Contains(names[i])) tails[i] = Rule(hint + "-tail", withIt);
                else tails[i] = tails[i + 1].Length == 0 ? Rule(hint + "-tail", $"( {withIt} )?") : Rule(hint + "-tail", $"{withIt} | {tails[i + 1]}");
            }
            // The first property present is some j with every earlier one optional.
            var firsts = new List<string>();
            bool allOptional = true;
            for (int j = 0; j < n; j++)
            {
                firsts.Add($"{kvs[j]} {tails[j + 1]}".TrimEnd());
                if (required.Contains(names[j])) { allOptional = false; break; }
            }
            string inner = string.Join(" | ", firsts);
            string body = allOptional ? $"\"{{\" ( {inner} )? \"}}\"" : $"\"{{\" ( {inner} ) \"}}\"";
            return Rule(hint + "-object", body);
        }

        /// <summary>The compact JSON text of a value as a GBNF literal.</summary>
        static string JsonLiteral(JsonElement v) => GbnfLiteral(JsonSerializer.Serialize(v, s_json));

        static readonly JsonSerializerOptions s_json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    }
}
