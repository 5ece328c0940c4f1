using System.Text.Json.Nodes;

namespace Hunch.Tests.Grammar;

/// <summary>
/// Seeded generator of JSON schemas in the supported subset. Each schema comes with the worst-case byte length
/// of a compact document satisfying it under the compiler's bounds (every token is at least one byte, so a
/// token budget of that size always lets constrained generation finish).
/// </summary>
internal sealed class SchemaGenerator(int seed)
{
    readonly Random _r = new(seed);
    readonly JsonObject _defs = [];
    int _defCount;

    static readonly string[] s_words = ["id", "name", "kind", "count", "ok", "tags", "value", "x", "y", "mode", "items", "code"];

    public static (string Schema, int MaxBytes) Make(int seed, int budget)
    {
        for (int attempt = 0; ; attempt++)
        {
            var g = new SchemaGenerator(seed * 1000 + attempt);
            var root = g.Object(0, out int max);
            if (g._defs.Count > 0) root["$defs"] = g._defs;
            if (max <= budget) return (root.ToJsonString(), max);
        }
    }

    JsonObject Object(int depth, out int max)
    {
        int n = _r.Next(1, depth == 0 ? 4 : 3);
        var props = new JsonObject();
        var required = new JsonArray();
        max = 2 + (n - 1);
        var used = new HashSet<string>();
        for (int i = 0; i < n; i++)
        {
            string key;
            do key = s_words[_r.Next(s_words.Length)]; while (!used.Add(key));
            props[key] = Value(depth + 1, out int m);
            max += key.Length + 3 + m;
            if (_r.Next(3) != 0) required.Add(key);
        }
        var o = new JsonObject { ["type"] = "object", ["properties"] = props, ["required"] = required };
        if (_r.Next(2) == 0) o["additionalProperties"] = false;
        return o;
    }

    JsonNode Value(int depth, out int max)
    {
        int kind = _r.Next(depth >= 2 ? 9 : 12);
        switch (kind)
        {
            case 0: case 1:
            {
                int lo = _r.Next(0, 3), hi = lo + _r.Next(0, 5);
                max = 2 + 6 * hi;
                return new JsonObject { ["type"] = "string", ["minLength"] = lo, ["maxLength"] = hi };
            }
            case 2: max = 17; return new JsonObject { ["type"] = "integer" };
            case 3: max = 39; return new JsonObject { ["type"] = "number" };
            case 4: max = 5; return new JsonObject { ["type"] = "boolean" };
            case 5:
            {
                var e = new JsonArray();
                int m = 0;
                foreach (var w in s_words.OrderBy(_ => _r.Next()).Take(_r.Next(1, 4))) { e.Add(w); m = Math.Max(m, w.Length + 2); }
                if (_r.Next(2) == 0) { e.Add(_r.Next(100)); m = Math.Max(m, 2); }
                if (_r.Next(3) == 0) { e.Add(null); m = Math.Max(m, 4); }
                max = m;
                return new JsonObject { ["enum"] = e };
            }
            case 6:
            {
                string pattern = _r.Next(3) switch { 0 => "^[a-z]{1,4}$", 1 => "^[A-Z][0-9]{2}$", _ => "^(yes|no)-[0-9]$" };
                max = 2 + 5;
                return new JsonObject { ["type"] = "string", ["pattern"] = pattern };
            }
            case 7:
            {
                max = _r.Next(2) == 0 ? 4 : 5;
                return new JsonObject { ["type"] = new JsonArray("boolean", "null") };
            }
            case 8:
            {
                var c = _r.Next(2) == 0 ? (JsonNode)JsonValue.Create(s_words[_r.Next(s_words.Length)]) : JsonValue.Create(_r.Next(1000));
                max = c.ToJsonString().Length;
                return new JsonObject { ["const"] = c };
            }
            case 9:
            {
                var item = Value(depth + 1, out int m);
                int lo = _r.Next(0, 2), hi = lo + _r.Next(1, 3);
                max = 2 + hi * m + (hi - 1);
                return new JsonObject { ["type"] = "array", ["items"] = item, ["minItems"] = lo, ["maxItems"] = hi };
            }
            case 10:
            {
                var a = Value(depth + 1, out int ma);
                var b = Value(depth + 1, out int mb);
                max = Math.Max(ma, mb);
                return new JsonObject { ["anyOf"] = new JsonArray(a, b) };
            }
            default:
            {
                var inner = Object(depth + 1, out max);
                if (_r.Next(2) == 0) return inner;
                string name = $"def{_defCount++}";
                _defs[name] = inner;
                return new JsonObject { ["$ref"] = $"#/$defs/{name}" };
            }
        }
    }
}
