using System.Text.Json;
using System.Text.RegularExpressions;

namespace Hunch.Tests.Grammar;

/// <summary>A JSON Schema validator for the subset the compiler supports (independent of the compiler).</summary>
internal static class MiniSchemaValidator
{
    internal static string? Validate(JsonElement schemaRoot, JsonElement value) => Check(schemaRoot, schemaRoot, value, "$", 0);

    static string? Check(JsonElement root, JsonElement s, JsonElement v, string path, int depth)
    {
        if (depth > 200) return $"{path}: too deep";
        if (s.ValueKind == JsonValueKind.True) return null;
        if (s.TryGetProperty("$ref", out var r))
        {
            string name = r.GetString()!;
            if (name == "#") return Check(root, root, v, path, depth + 1);
            var key = name.StartsWith("#/$defs/") ? ("$defs", name[8..]) : ("definitions", name[14..]);
            return Check(root, root.GetProperty(key.Item1).GetProperty(key.Item2), v, path, depth + 1);
        }
        if (s.TryGetProperty("const", out var c) && !DeepEquals(c, v)) return $"{path}: not the const {c}";
        if (s.TryGetProperty("enum", out var en) && !en.EnumerateArray().Any(e => DeepEquals(e, v))) return $"{path}: not in enum";
        if (s.TryGetProperty("anyOf", out var any) && !any.EnumerateArray().Any(a => Check(root, a, v, path, depth + 1) is null)) return $"{path}: matches no anyOf";
        if (s.TryGetProperty("oneOf", out var one) && one.EnumerateArray().Count(a => Check(root, a, v, path, depth + 1) is null) != 1) return $"{path}: matches not exactly one oneOf";
        if (s.TryGetProperty("type", out var type))
        {
            var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToArray() : [type.GetString()!];
            if (!types.Any(t => HasType(v, t))) return $"{path}: {v.ValueKind} is not {string.Join("/", types)}";
        }
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
            {
                string str = v.GetString()!;
                int len = 0;
                for (int i = 0; i < str.Length; i++) { if (char.IsHighSurrogate(str[i])) i++; len++; }
                if (s.TryGetProperty("minLength", out var mn) && len < mn.GetInt32()) return $"{path}: shorter than minLength";
                if (s.TryGetProperty("maxLength", out var mx) && len > mx.GetInt32()) return $"{path}: longer than maxLength";
                if (s.TryGetProperty("pattern", out var p) && !Regex.IsMatch(str, p.GetString()!)) return $"{path}: '{str}' does not match /{p.GetString()}/";
                break;
            }
            case JsonValueKind.Array:
            {
                int n = v.GetArrayLength();
                if (s.TryGetProperty("minItems", out var mn) && n < mn.GetInt32()) return $"{path}: fewer than minItems";
                if (s.TryGetProperty("maxItems", out var mx) && n > mx.GetInt32()) return $"{path}: more than maxItems";
                if (s.TryGetProperty("items", out var items))
                {
                    int i = 0;
                    foreach (var e in v.EnumerateArray()) { var err = Check(root, items, e, $"{path}[{i++}]", depth + 1); if (err is not null) return err; }
                }
                break;
            }
            case JsonValueKind.Object:
            {
                var names = new HashSet<string>();
                foreach (var p in v.EnumerateObject()) if (!names.Add(p.Name)) return $"{path}: duplicate key {p.Name}";
                bool hasProps = s.TryGetProperty("properties", out var props);
                if (s.TryGetProperty("required", out var req))
                    foreach (var q in req.EnumerateArray()) if (!names.Contains(q.GetString()!)) return $"{path}: missing required {q}";
                foreach (var p in v.EnumerateObject())
                {
                    if (hasProps && props.TryGetProperty(p.Name, out var ps))
                    {
                        var err = Check(root, ps, p.Value, $"{path}.{p.Name}", depth + 1);
                        if (err is not null) return err;
                    }
                    else if (s.TryGetProperty("additionalProperties", out var ap))
                    {
                        if (ap.ValueKind == JsonValueKind.False) return $"{path}: additional property {p.Name}";
                        var err = Check(root, ap, p.Value, $"{path}.{p.Name}", depth + 1);
                        if (err is not null) return err;
                    }
                }
                break;
            }
        }
        return null;
    }

    static bool HasType(JsonElement v, string t) => t switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && decimal.TryParse(v.GetRawText(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) && d == Math.Floor(d),
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => v.ValueKind == JsonValueKind.Null,
        _ => false,
    };

    static bool DeepEquals(JsonElement a, JsonElement b) => JsonElement.DeepEquals(a, b);
}
