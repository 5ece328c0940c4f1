using Hunch.Grammar;
using static Hunch.Tests.Grammar.GrammarTestSupport;

namespace Hunch.Tests.Grammar;

public class JsonSchemaGrammarTests
{
    static bool Accepts(string schema, string json) => Matches(JsonSchemaGrammar.Compile(schema), json);

    const string Person = """
        {"type":"object","properties":{"name":{"type":"string","maxLength":5},"age":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2}},
         "required":["name"],"additionalProperties":false}
        """;

    [Theory]
    [InlineData(Person, """{"name":"Ann"}""", true)]
    [InlineData(Person, """{"name":"Ann","age":-42}""", true)]
    [InlineData(Person, """{"name":"Ann","tags":["a","b"]}""", true)]
    [InlineData(Person, """{"name":"Ann","age":3,"tags":[]}""", true)]
    [InlineData(Person, """{"age":3}""", false)]                        // required missing
    [InlineData(Person, """{"name":"Annabel"}""", false)]               // maxLength
    [InlineData(Person, """{"name":"Ann","age":3.5}""", false)]         // integer
    [InlineData(Person, """{"name":"Ann","tags":["a","b","a"]}""", false)]  // maxItems
    [InlineData(Person, """{"name":"Ann","tags":["c"]}""", false)]      // enum
    [InlineData(Person, """{"name":"Ann","x":1}""", false)]             // no additional properties
    [InlineData(Person, """{"name":"A\"\u00e9"}""", true)]              // escapes count as one character
    [InlineData("""{"type":"number"}""", "-0.5e+10", true)]
    [InlineData("""{"type":"number"}""", "01", false)]
    [InlineData("""{"type":["string","null"]}""", "null", true)]
    [InlineData("""{"const":{"a":[1,true]}}""", """{"a":[1,true]}""", true)]
    [InlineData("""{"anyOf":[{"type":"boolean"},{"type":"integer"}]}""", "7", true)]
    [InlineData("""{"anyOf":[{"type":"boolean"},{"type":"integer"}]}""", "\"7\"", false)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}""", "[1]", false)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}""", "[1,2,3]", true)]
    [InlineData("""{"type":"object","additionalProperties":{"type":"integer"}}""", """{"a":1,"b":2}""", true)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}}""", """{"b":1,"c":2}""", true)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}}""", """{"c":2,"b":1}""", false)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}}""", "{}", true)]
    [InlineData("""{"type":"string","pattern":"^[a-c]+x?$"}""", "\"abcx\"", true)]
    [InlineData("""{"type":"string","pattern":"^[a-c]+x?$"}""", "\"abcd\"", false)]
    [InlineData("""{"type":"string","pattern":"\\d{3}"}""", "\"ab123cd\"", true)]      // unanchored: a search
    [InlineData("""{"type":"string","pattern":"^\"q\"$"}""", "\"\\\"q\\\"\"", true)]  // quotes come out escaped
    [InlineData("""{"type":"string","pattern":"^(?:ab|c){2}$"}""", "\"cab\"", true)]
    [InlineData("""{"$defs":{"node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["kids"]}},"$ref":"#/$defs/node"}""",
        """{"kids":[{"kids":[]},{"kids":[{"kids":[]}]}]}""", true)]
    public void CompiledSchemaAcceptsExactlyValidDocuments(string schema, string json, bool expected)
        => Assert.Equal(expected, Accepts(schema, json));

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("""{"type":"integer","minimum":3}""", "'minimum'")]
    [InlineData("""{"type":"string","format":"date"}""", "'format'")]
    [InlineData("""{"type":"strange"}""", "unknown type")]
    [InlineData("""{"type":"string","maxLength":100000000}""", "limit")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "points to nothing")]
    [InlineData("""{"$ref":"http://example.com/s.json"}""", "not supported")]
    [InlineData("""{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}},"$ref":"#/$defs/a"}""", "left-recursive")]
    [InlineData("""{"type":"string","pattern":"(a)\\1"}""", "not supported")]
    [InlineData("""{"type":"string","pattern":"a(?=b)"}""", "lookarounds")]
    [InlineData("""{"type":"object","properties":{"a":{}},"required":["b"]}""", "not among the properties")]
    [InlineData("false", "nothing satisfies")]
    public void UnsupportedOrBadSchemasAreRejected(string schema, string message)
    {
        var e = Assert.Throws<GrammarException>(() => JsonSchemaGrammar.Compile(schema));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void HostileSchemasAreBounded()
    {
        // Nesting beyond the depth bound.
        string deep = string.Concat(Enumerable.Repeat("""{"type":"array","items":""", 200)) + "{}" + new string('}', 200);
        Assert.Contains("deeper", Assert.Throws<GrammarException>(() => JsonSchemaGrammar.Compile(deep)).Message);
        // Too long a text.
        var opts = new JsonSchemaOptions { MaxSchemaChars = 1000 };
        Assert.Throws<GrammarException>(() => JsonSchemaGrammar.Compile("{\"enum\":[" + string.Join(",", Enumerable.Range(0, 500)) + "]}", opts));
        // Too many subschemas (a wide object of wide objects).
        string wide = "{\"type\":\"object\",\"properties\":{" + string.Join(",", Enumerable.Range(0, 100).Select(i =>
            $"\"p{i}\":{{\"type\":\"object\",\"properties\":{{" + string.Join(",", Enumerable.Range(0, 100).Select(j => $"\"q{j}\":{{\"type\":\"integer\"}}")) + "}}")) + "}}";
        Assert.Contains("subschemas", Assert.Throws<GrammarException>(() => JsonSchemaGrammar.Compile(wide)).Message);
        // Self-recursion that consumes input is fine (a tree), and is compiled once.
        var g = JsonSchemaGrammar.Compile("""{"type":"object","properties":{"next":{"$ref":"#"}}}""");
        Assert.True(Matches(g, """{"next":{"next":{}}}"""));
    }

    [Fact]
    public void JsonModeAcceptsAnyObject()
    {
        var g = JsonSchemaGrammar.AnyJson();
        Assert.True(Matches(g, "{ \"a\" : [1, {\"b\": null}, \"\\u00e9\"] ,\n\"c\":true }"));
        Assert.False(Matches(g, "[1]"));
        Assert.False(Matches(g, "{\"a\":}"));
        Assert.True(Matches(JsonSchemaGrammar.AnyJson(objectOnly: false), "[1]"));
    }
}

public class ToolCallGrammarTests
{
    const string Tools = """
        [{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city"]}}},
         {"type":"function","function":{"name":"add","parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}]
        """;

    [Theory]
    [InlineData(null, "", "", """{"name":"get_weather","arguments":{"city":"Oslo"}}""", true)]
    [InlineData(null, "", "", """{"name":"add","arguments":{"a":1,"b":2}}""", true)]
    [InlineData(null, "", "", """{"name":"add","arguments":{"city":"Oslo"}}""", false)]
    [InlineData(null, "", "", """{"name":"nope","arguments":{}}""", false)]
    [InlineData("add", "", "", """{"name":"get_weather","arguments":{"city":"Oslo"}}""", false)]
    [InlineData(null, "<tool_call>\n", "\n</tool_call>", "<tool_call>\n{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}\n</tool_call>", true)]
    [InlineData(null, "<tool_call>\n", "\n</tool_call>", """{"name":"add","arguments":{"a":1,"b":2}}""", false)]
    public void ToolCallsFollowTheirParameters(string? only, string prefix, string suffix, string text, bool expected)
        => Assert.Equal(expected, GrammarTestSupport.Matches(ToolCallGrammar.Compile(Tools, only, prefix, suffix), text));

    [Fact]
    public void ParallelCallsAndErrors()
    {
        var g = ToolCallGrammar.Compile(Tools, maxCalls: 2);
        Assert.True(GrammarTestSupport.Matches(g, """[{"name":"add","arguments":{"a":1,"b":2}},{"name":"get_weather","arguments":{"city":"x","unit":"c"}}]"""));
        Assert.Contains("not among", Assert.Throws<GrammarException>(() => ToolCallGrammar.Compile(Tools, "missing")).Message);
        Assert.Throws<GrammarException>(() => ToolCallGrammar.Compile("{}"));
        Assert.Contains("twice", Assert.Throws<GrammarException>(() => ToolCallGrammar.Compile("""[{"function":{"name":"a"}},{"function":{"name":"a"}}]""")).Message);
    }
}
